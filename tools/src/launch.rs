//! What one `coracle run` packs: the mode, the program, its argv and working directory.
//!
//! The first positional argument decides the mode. A directory is a root filesystem and the
//! next argument is COMMAND, found inside it (`resolve`); anything else is a program on the
//! host (`program`), packed at its host path with, when it is dynamically linked, its
//! interpreter and libraries at theirs (`libraries`, `packlist`). Every check that has a docker
//! status (125/126/127) happens here, before anything is packed or started; `vm` then streams
//! the archive with `initrd`.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cli::RunOptions;
use crate::env::{Environment, DEFAULT_PATH};
use crate::error::RunError;
use crate::image::tree::FsTree;
use crate::initrd::{self, Records, Root};
use crate::program::{self, Program};
use crate::resolve;
use crate::rootfs::Tree;

/// The usage line of the root-filesystem mode, for its usage errors.
const ROOTFS_USAGE: &str = "coracle run [OPTIONS] ROOTFS_DIR COMMAND [ARGS...]";

#[derive(Debug)]
enum Content {
    Program(Program),
    Tree(Tree),
    Image(Box<FsTree>),
    /// A packed image's file: the kernel and the root drive (`pack`).
    Packed(crate::pack::run::PackedRoot),
}

/// A checked run, ready to be packed.
#[derive(Debug)]
pub struct Launch {
    argv: Vec<OsString>,
    env: Environment,
    exec: Vec<u8>,
    cwd: Vec<u8>,
    /// The network files for /etc (`network`).
    etc: Vec<(String, String)>,
    /// The user an image's program runs as (`-u` or its User); root when `None`.
    user: Option<crate::initrd::User>,
    content: Content,
    /// An image's StopSignal, as written there (`SIGQUIT`, `3`...).
    stop_signal: Option<String>,
}

impl Launch {
    /// Chooses the mode and checks the command. `host_cwd` is the current directory and
    /// `host_path` the host `PATH` (the single-binary mode searches the host).
    pub fn prepare(
        opts: &RunOptions,
        host_cwd: &Path,
        host_path: Option<&OsStr>,
    ) -> Result<Launch, RunError> {
        let first = opts
            .command
            .first()
            .ok_or_else(|| RunError::Usage("no program given".into()))?;
        if let Some((root, config)) = crate::pack::run::open(&host_cwd.join(first))? {
            return crate::pack::run::prepare(opts, root, &config);
        }
        let store = crate::image::store::Store::existing_default();
        if let Some(source) =
            crate::image::run::image_source(first, host_cwd, host_path, store.as_ref())?
        {
            let store = crate::image::store::Store::open_default()?;
            return crate::image::run::prepare(opts, &source, &store);
        }
        crate::image::run::check_root_user(opts)?;
        let candidate = host_cwd.join(first);
        if !candidate.is_dir() {
            let library_path = opts.env.get("LD_LIBRARY_PATH");
            let program = program::find_program(first, host_path, host_cwd, library_path)?;
            let cwd = match &opts.workdir {
                Some(dir) => dir.as_os_str().as_bytes().to_vec(),
                None => host_cwd.as_os_str().as_bytes().to_vec(),
            };
            return Ok(Launch {
                argv: opts.command.clone(),
                env: opts.env.clone(),
                exec: program.path.as_os_str().as_bytes().to_vec(),
                cwd,
                etc: etc_files(opts),
                user: None,
                content: Content::Program(program),
                stop_signal: None,
            });
        }

        let Some(command) = opts.command.get(1) else {
            return Err(RunError::Usage(format!(
                "no command specified: {} is a root filesystem; usage: {ROOTFS_USAGE}",
                first.to_string_lossy()
            )));
        };
        let root = std::fs::canonicalize(&candidate).map_err(|e| {
            RunError::io(
                format!("cannot open the root filesystem {}", candidate.display()),
                e,
            )
        })?;
        let workdir = opts.workdir.as_deref().unwrap_or(Path::new("/"));
        let cwd = resolve::absolute(b"/", workdir.as_os_str().as_bytes());
        check_workdir(&root, &cwd)?;
        let search = opts
            .env
            .get("PATH")
            .map_or(DEFAULT_PATH.as_bytes(), OsStr::as_bytes);
        let found = resolve::find_command(&root, &cwd, command, search)?;
        program::check_command(&root, &command.to_string_lossy(), &found.host)?;
        let tree =
            Tree::scan(&root).map_err(|e| RunError::io("cannot read the root filesystem", e))?;
        Ok(Launch {
            argv: opts.command[1..].to_vec(),
            env: opts.env.clone(),
            exec: found.exec,
            cwd,
            etc: etc_files(opts),
            user: None,
            content: Content::Tree(tree),
            stop_signal: None,
        })
    }

    /// A run of an image's root filesystem (`image::run` has checked the command).
    pub(crate) fn from_image(
        argv: Vec<OsString>,
        env: Environment,
        exec: Vec<u8>,
        cwd: Vec<u8>,
        user: crate::initrd::User,
        tree: FsTree,
    ) -> Launch {
        Launch {
            argv,
            env,
            exec,
            cwd,
            etc: Vec::new(),
            user: Some(user),
            content: Content::Image(Box::new(tree)),
            stop_signal: None,
        }
    }

    /// A run of a packed image (`pack::run` has made the records).
    pub(crate) fn from_packed(
        argv: Vec<OsString>,
        env: Environment,
        exec: Vec<u8>,
        cwd: Vec<u8>,
        user: crate::initrd::User,
        root: crate::pack::run::PackedRoot,
    ) -> Launch {
        Launch {
            argv,
            env,
            exec,
            cwd,
            etc: Vec::new(),
            user: Some(user),
            content: Content::Packed(root),
            stop_signal: None,
        }
    }

    /// The file data of an image's root filesystem, for the initrd's progress bar.
    pub fn image_bytes(&self) -> Option<u64> {
        match &self.content {
            Content::Image(tree) => Some(tree.data_bytes()),
            _ => None,
        }
    }

    /// The packed image this launch runs, if it runs one.
    pub fn packed(&self) -> Option<&crate::pack::run::PackedRoot> {
        match &self.content {
            Content::Packed(root) => Some(root),
            _ => None,
        }
    }

    /// Keeps the image's StopSignal for `coracle stop`.
    pub(crate) fn with_stop_signal(mut self, signal: Option<String>) -> Launch {
        self.stop_signal = signal;
        self
    }

    /// The image's StopSignal, if it names one.
    pub fn stop_signal(&self) -> Option<&str> {
        self.stop_signal.as_deref()
    }

    /// Adds the network files for /etc that `opts` asks for (as Docker provides them).
    pub(crate) fn with_network_files(mut self, opts: &RunOptions) -> Launch {
        self.etc = etc_files(opts);
        self
    }

    /// One line about what the archive leaves out, to print as a warning: skipped entries of
    /// a root filesystem, or the library tree of a runtime run from the host.
    pub fn warning(&self) -> Option<String> {
        match &self.content {
            Content::Tree(tree) => tree.skipped_warning(),
            Content::Image(tree) => tree.skipped_warning(),
            Content::Program(program) => program.note.clone(),
            Content::Packed(_) => None,
        }
    }

    /// The root filesystem as an EROFS image for the root drive (cached by content, see
    /// `root_image`); `None` in the single-binary mode, whose few files stay in the initrd.
    pub fn root_image(&self) -> Option<io::Result<std::path::PathBuf>> {
        let source = match &self.content {
            Content::Program(_) => return None,
            Content::Packed(root) => return Some(Ok(root.path.clone())),
            Content::Tree(tree) => crate::root_image::Source::Tree(tree),
            Content::Image(tree) => crate::root_image::Source::Image(tree),
        };
        Some(crate::root_image::cached_image(source))
    }

    /// Writes the initrd to `out` (docs/guest-protocol.md, "Initrd") and returns it; with
    /// `root_on_drive`, the launch records alone (the root is the image of [`Self::root_image`]).
    pub fn write_initrd<W: Write>(&self, out: W, root_on_drive: bool) -> io::Result<W> {
        let records = Records {
            argv: &self.argv,
            env: &self.env,
            exec: &self.exec,
            cwd: &self.cwd,
            etc: &self.etc,
            user: self.user.as_ref(),
        };
        let root = match &self.content {
            _ if root_on_drive => Root::Device,
            Content::Packed(_) => Root::Device,
            Content::Program(program) => Root::Program(program),
            Content::Tree(tree) => Root::Tree(tree),
            Content::Image(tree) => Root::Image(tree),
        };
        initrd::write_initrd(out, &records, root)
    }
}

/// /etc/hosts, /etc/hostname and /etc/resolv.conf, as Docker provides them (no resolv.conf
/// without a network).
fn etc_files(opts: &RunOptions) -> Vec<(String, String)> {
    let mut files = vec![
        ("hosts".to_owned(), opts.network.hosts(&opts.hostname)),
        ("hostname".to_owned(), format!("{}\n", opts.hostname)),
    ];
    let resolv = opts.network.resolv_conf();
    if !resolv.is_empty() {
        files.push(("resolv.conf".to_owned(), resolv));
    }
    files
}

/// The working directory may be missing (the kernel creates it, as docker does) but must not
/// be something else.
fn check_workdir(root: &Path, cwd: &[u8]) -> Result<(), RunError> {
    resolve::check_workdir(root, cwd).map_err(|e| {
        RunError::Usage(format!(
            "the working directory {} is invalid in {}: {e}",
            String::from_utf8_lossy(cwd),
            root.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::tempdir::TempDir;

    fn options(args: &[&str]) -> RunOptions {
        let mut full = vec!["coracle", "run"];
        full.extend_from_slice(args);
        let Command::Run(run) = Cli::try_parse_from(full).unwrap().command else {
            panic!("not run");
        };
        run.into_options("h", |_| None).unwrap()
    }

    /// `root/bin/busybox` (a copy of the host's static busybox) and `root/bin/ls -> busybox`.
    fn rootfs() -> (TempDir, String) {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        fs_create(&root.join("bin"));
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("/bin/busybox is missing: install busybox-static");
        symlink("busybox", root.join("bin/ls")).unwrap();
        let root = root.to_str().unwrap().to_owned();
        (tmp, root)
    }

    fn fs_create(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
    }

    fn records(launch: &Launch) -> Vec<(String, Vec<u8>)> {
        let bytes = launch.write_initrd(Vec::new(), false).unwrap();
        let mut out = Vec::new();
        for e in coracle_test_reader(&bytes).into_iter().take(4) {
            out.push(e);
        }
        out
    }

    /// The first members of an archive, as (name, data).
    fn coracle_test_reader(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        while bytes.len() >= 110 {
            let field = |i: usize| {
                let hex = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap();
                usize::from_str_radix(hex, 16).unwrap()
            };
            let (size, namesize) = (field(6), field(11));
            let name = String::from_utf8_lossy(&bytes[110..109 + namesize]).into_owned();
            let start = (110 + namesize).next_multiple_of(4);
            out.push((name, bytes[start..start + size].to_vec()));
            bytes = &bytes[(start + size).next_multiple_of(4)..];
        }
        out
    }

    #[test]
    fn rootfs_mode_records() {
        let (_tmp, root) = rootfs();
        let opts = options(&[&root, "ls", "-l", "/"]);
        let launch = Launch::prepare(&opts, Path::new("/"), None).unwrap();
        let recs = records(&launch);
        assert_eq!(recs[0], (".coracle/argv".into(), b"ls\0-l\0/\0".to_vec()));
        // Looked up in docker's default PATH; the symlink is left for the kernel.
        assert_eq!(recs[2], (".coracle/exec".into(), b"/bin/ls".to_vec()));
        assert_eq!(recs[3], (".coracle/cwd".into(), b"/".to_vec()));
        let env = String::from_utf8(recs[1].1.clone()).unwrap();
        assert!(env.starts_with(&format!("PATH={DEFAULT_PATH}\0")), "{env}");

        let opts = options(&[
            "-w",
            "/srv/./app/",
            "-e",
            "PATH=/nope:bin",
            &root,
            "../../bin/ls",
        ]);
        let launch = Launch::prepare(&opts, Path::new("/"), None).unwrap();
        let recs = records(&launch);
        assert_eq!(recs[0].1, b"../../bin/ls\0");
        assert_eq!(recs[2].1, b"/srv/app/../../bin/ls");
        assert_eq!(recs[3].1, b"/srv/app");
        // A relative PATH entry is relative to the working directory.
        let opts = options(&["-w", "/", "-e", "PATH=/nope:bin", &root, "busybox"]);
        let launch = Launch::prepare(&opts, Path::new("/"), None).unwrap();
        assert_eq!(records(&launch)[2].1, b"/bin/busybox");
    }

    #[test]
    fn rootfs_relative_to_the_host_cwd() {
        let (tmp, _) = rootfs();
        let opts = options(&["root", "/bin/busybox"]);
        let launch = Launch::prepare(&opts, tmp.path(), None).unwrap();
        assert_eq!(records(&launch)[0].1, b"/bin/busybox\0");
        let err = Launch::prepare(&options(&["root"]), tmp.path(), None).unwrap_err();
        assert_eq!(err.exit_status(), 125);
        assert!(err.to_string().contains("no command specified"), "{err}");
    }

    #[test]
    fn single_binary_mode_is_unchanged() {
        let tmp = TempDir::new().unwrap();
        let prog = tmp.path().join("prog");
        std::fs::copy("/bin/busybox", &prog).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let opts = options(&["./prog", "echo"]);
        let launch = Launch::prepare(&opts, tmp.path(), None).unwrap();
        let recs = records(&launch);
        let host = std::fs::canonicalize(&prog).unwrap();
        assert_eq!(recs[0].1, b"./prog\0echo\0");
        assert_eq!(recs[2].1, host.as_os_str().as_bytes());
        assert_eq!(recs[3].1, tmp.path().as_os_str().as_bytes());
        // A name is searched in the host PATH; -w replaces the host cwd.
        let opts = options(&["-w", "/x", "prog"]);
        let launch = Launch::prepare(&opts, Path::new("/"), Some(tmp.path().as_os_str())).unwrap();
        let recs = records(&launch);
        assert_eq!(recs[0].1, b"prog\0");
        assert_eq!(recs[3].1, b"/x");
    }

    /// Follows `path` through the archive's own entries (name -> (mode, data)) as the guest
    /// will: the mode of what it names, or `None`.
    fn lookup_in(
        archive: &std::collections::HashMap<String, (u32, Vec<u8>)>,
        path: &str,
    ) -> Option<u32> {
        let mut todo: std::collections::VecDeque<String> = path
            .split('/')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        let mut dir: Vec<String> = Vec::new();
        for _ in 0..200 {
            let Some(part) = todo.pop_front() else {
                return Some(0o040000);
            };
            if part == ".." {
                dir.pop();
                continue;
            }
            let name = [dir.join("/"), part.clone()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("/");
            let (mode, data) = archive.get(&name)?;
            match mode & 0o170000 {
                0o120000 => {
                    let target = String::from_utf8(data.clone()).unwrap();
                    if target.starts_with('/') {
                        dir.clear();
                    }
                    let mut next: std::collections::VecDeque<String> = target
                        .split('/')
                        .filter(|p| !p.is_empty())
                        .map(String::from)
                        .collect();
                    next.extend(todo);
                    todo = next;
                }
                0o040000 => dir.push(part),
                kind if todo.is_empty() => return Some(kind),
                _ => return None,
            }
        }
        None
    }

    #[test]
    fn a_dynamic_program_brings_its_interpreter_and_libraries() {
        let tmp = TempDir::new().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::write(
            dir.join("m.c"),
            "#include <math.h>\nint main(int c, char **v) { return (int)cbrt(c); }\n",
        )
        .unwrap();
        let out = std::process::Command::new("gcc")
            .args(["-O2", "-o", "m", "m.c", "-lm"])
            .current_dir(&dir)
            .output()
            .expect("gcc");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = options(&["./m"]);
        let launch = Launch::prepare(&opts, &dir, None).unwrap();
        let bytes = launch.write_initrd(Vec::new(), false).unwrap();
        let archive: std::collections::HashMap<String, (u32, Vec<u8>)> =
            crate::initrd::tests::read_archive(&bytes)
                .into_iter()
                .map(|(name, _, mode, _, data)| (name, (mode, data)))
                .collect();
        let m = dir.join("m");
        for path in [
            m.to_str().unwrap(),
            "/lib64/ld-linux-x86-64.so.2",
            "/etc/ld.so.cache",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/x86_64-linux-gnu/libm.so.6",
        ] {
            assert_eq!(
                lookup_in(&archive, path),
                Some(0o100000),
                "{path} in the archive"
            );
        }
        // Symlinks stay symlinks, as on the host.
        if std::fs::symlink_metadata("/lib64")
            .unwrap()
            .file_type()
            .is_symlink()
        {
            assert_eq!(archive["lib64"].0 & 0o170000, 0o120000);
        }
        assert!(launch.warning().is_none());
    }
}
