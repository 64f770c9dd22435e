//! Benchmarking a root filesystem on the block device: the program a root holds itself, run
//! in place, and a first run that writes the root's EROFS image before the measured ones.
//!
//! `coracle bench --root-device blk ROOTFS_DIR /usr/bin/python3 -c 'print(1)'` measures what
//! issue 15 asks for: the time from VM spawn to the program's first instruction and, with
//! `--min-memory`, the guest memory floor, with the root read on demand from the drive. An
//! absolute PROGRAM that ROOTFS_DIR holds runs from the root as it is (a dynamically linked
//! one with the root's libraries): the root is not copied, so its files keep their identity
//! and `coracle run` finds the image it wrote of them in its cache (`crate::root_image`) on
//! every run but the first, which [`warm_up`] makes before the measured runs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::report::RunResult;
use super::sides::{self, Knobs};
use super::{Plan, Staged};
use crate::qemu::RootDevice;

/// `name` as a program of the root `dir` itself: an absolute path that `dir` holds (a file
/// or a symlink, which the guest resolves inside the root).
pub(super) fn in_root(dir: &Path, name: &OsStr) -> Option<Staged> {
    let guest_path = PathBuf::from(name);
    let inside = guest_path.strip_prefix("/").ok()?;
    if inside.as_os_str().is_empty() {
        return None;
    }
    let meta = std::fs::symlink_metadata(dir.join(inside)).ok()?;
    (!meta.is_dir()).then(|| Staged {
        root: dir.to_path_buf(),
        guest_path,
        _dir: None,
    })
}

/// `--root-device` as `coracle run` takes it.
pub(super) fn device_arg(device: RootDevice) -> &'static str {
    match device {
        RootDevice::Initrd => "initrd",
        RootDevice::Blk => "blk",
    }
}

/// Whether the Coracle side may write a root filesystem image on its first run: a root or
/// an image, not sent in the initrd.
fn writes_image(plan: &Plan) -> bool {
    let has_root = plan.rootfs.is_some() || plan.image.is_some();
    let device = plan.root_device.or_else(|| {
        let var = std::env::var("CORACLE_ROOT_DEVICE").ok()?;
        clap::ValueEnum::from_str(&var, true).ok()
    });
    has_root && plan.coracle.is_some() && device != Some(RootDevice::Initrd)
}

/// Runs the Coracle side once, unmeasured, when that run writes the root's image (cached by
/// `coracle run` for the later ones), so every measured run starts from the cached image as
/// a user's second run does. A failure shows again in the measured runs.
pub(super) fn warm_up(plan: &Plan, knobs: Knobs) {
    if !writes_image(plan) {
        return;
    }
    let r: RunResult = sides::run_coracle(plan, knobs);
    eprintln!(
        "bench: first run (writes the root filesystem image, not measured): {:.0} ms",
        r.wall.as_secs_f64() * 1e3
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_the_root_holds_runs_in_place() {
        let dir =
            std::env::temp_dir().join(format!("coracle-bench-storage-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("usr/bin")).unwrap();
        std::fs::write(dir.join("usr/bin/python3.11"), b"\x7fELF").unwrap();
        std::os::unix::fs::symlink("python3.11", dir.join("usr/bin/python3")).unwrap();
        let staged = in_root(&dir, OsStr::new("/usr/bin/python3")).expect("in the root");
        assert_eq!(staged.root, dir);
        assert_eq!(staged.guest_path, Path::new("/usr/bin/python3"));
        // A relative name is a host program; a directory or a missing file is not a program.
        assert!(in_root(&dir, OsStr::new("usr/bin/python3")).is_none());
        assert!(in_root(&dir, OsStr::new("/usr/bin")).is_none());
        assert!(in_root(&dir, OsStr::new("/usr/bin/perl")).is_none());
        assert!(in_root(&dir, OsStr::new("/")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(device_arg(RootDevice::Blk), "blk");
    }
}
