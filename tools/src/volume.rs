//! Volumes (`-v`): host directories and named volumes, shared with the VM over virtio-9p.
//!
//! `-v HOST_DIR:GUEST_PATH[:ro|:rw]` shares an absolute host directory (made if missing, as
//! `docker run -v` does); `-v NAME:GUEST_PATH` a named volume, a directory kept in Coracle's
//! data directory (`volumes/NAME/_data`, Docker's layout), made on first use and listed and
//! removed by `coracle volume ls|rm`. Each volume is a QEMU `-fsdev local` export with
//! `security_model=none`: files keep the host's owners and modes, as a Docker bind mount
//! shows them, and files the program makes are owned by whoever runs QEMU when that user may
//! not give them away (root in the container is the host user, as with rootless Docker). The
//! kernel finds each export by its mount tag (`coracle.volume=TAG:PATH[:ro]`,
//! docs/guest-protocol.md) and mounts its 9P2000.L filesystem there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::RunError;
use crate::qemu::Machine;

/// A `-v` value as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    /// Absolute path in the container.
    pub guest: String,
    pub read_only: bool,
}

/// Where a volume's files are on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An absolute host directory.
    Host(PathBuf),
    /// A named volume.
    Named(String),
}

/// A volume ready for QEMU: its host directory exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

/// Whether `name` is a valid volume name (Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Parses `SOURCE:GUEST_PATH[:ro|:rw]`.
pub fn parse_volume(text: &str) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, guest, mode) = match parts[..] {
        [s, g] => (s, g, "rw"),
        [s, g, m] => (s, g, m),
        _ => return Err(format!("invalid volume {text:?}: want SOURCE:PATH[:ro]")),
    };
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        _ => return Err(format!("invalid volume mode {mode:?}: want ro or rw")),
    };
    if !guest.starts_with('/') {
        return Err(format!(
            "invalid volume path {guest:?}: it must be absolute"
        ));
    }
    if guest.contains(char::is_whitespace) || source.contains(char::is_whitespace) {
        return Err("a volume cannot hold white space".into());
    }
    let source = if source.starts_with('/') {
        Source::Host(PathBuf::from(source))
    } else if valid_name(source) {
        Source::Named(source.to_owned())
    } else {
        return Err(format!(
            "invalid volume source {source:?}: an absolute host path or a name \
             ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
        ));
    };
    Ok(VolumeSpec {
        source,
        guest: guest.to_owned(),
        read_only,
    })
}

/// Where named volumes live: `$XDG_DATA_HOME/coracle/volumes`, else
/// `~/.local/share/coracle/volumes`.
pub fn volumes_dir() -> Result<PathBuf, RunError> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".local/share"))
            .ok_or_else(|| RunError::Usage("neither XDG_DATA_HOME nor HOME is set".into()))?,
    };
    Ok(base.join("coracle/volumes"))
}

/// Makes the host directory of each volume where missing.
pub fn resolve(specs: &[VolumeSpec]) -> Result<Vec<Volume>, RunError> {
    specs
        .iter()
        .map(|spec| {
            let host = match &spec.source {
                Source::Host(dir) => dir.clone(),
                Source::Named(name) => volumes_dir()?.join(name).join("_data"),
            };
            std::fs::create_dir_all(&host).map_err(|e| {
                RunError::io(format!("cannot make the volume {}", host.display()), e)
            })?;
            if !host.is_dir() {
                return Err(RunError::Usage(format!(
                    "the volume source {} is not a directory",
                    host.display()
                )));
            }
            Ok(Volume {
                host,
                guest: spec.guest.clone(),
                read_only: spec.read_only,
            })
        })
        .collect()
}

fn tag(index: usize) -> String {
    format!("vol{index}")
}

/// QEMU's options: a comma in an option value is written twice.
fn escape(path: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut out = Vec::new();
    for &b in path.as_os_str().as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

/// The `-fsdev` and `-device` arguments of `volumes`.
pub fn qemu_args(volumes: &[Volume], machine: Machine) -> Vec<OsString> {
    let mut args = Vec::new();
    for (i, v) in volumes.iter().enumerate() {
        let id = tag(i);
        let mut fsdev = OsString::from(format!("local,id={id},path="));
        fsdev.push(escape(&v.host));
        fsdev.push(",security_model=none");
        if v.read_only {
            fsdev.push(",readonly=on");
        }
        let device = match machine {
            Machine::Microvm => format!("virtio-9p-device,fsdev={id},mount_tag={id}"),
            Machine::Q35 => format!("virtio-9p-pci,fsdev={id},mount_tag={id},disable-legacy=on"),
        };
        args.extend(["-fsdev".into(), fsdev, "-device".into(), device.into()]);
    }
    args
}

/// The kernel's `coracle.volume=TAG:PATH[:ro]` tokens of `volumes`.
pub fn kernel_args(volumes: &[Volume]) -> Vec<String> {
    volumes
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let ro = if v.read_only { ":ro" } else { "" };
            format!("coracle.volume={}:{}{ro}", tag(i), v.guest)
        })
        .collect()
}

/// `coracle volume ...`.
#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// List the named volumes.
    Ls,
    /// Remove named volumes and their data.
    Rm {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
}

/// Runs `coracle volume ...`; returns the exit status.
pub fn command(cmd: VolumeCommand) -> Result<u8, RunError> {
    let dir = volumes_dir()?;
    match cmd {
        VolumeCommand::Ls => {
            let mut names: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join("_data").is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(RunError::io(format!("cannot read {}", dir.display()), e)),
            };
            names.sort();
            println!("DRIVER    VOLUME NAME");
            for n in names {
                println!("local     {n}");
            }
            Ok(0)
        }
        VolumeCommand::Rm { names } => {
            let mut status = 0;
            for name in names {
                let path = dir.join(&name);
                if !valid_name(&name) || !path.join("_data").is_dir() {
                    eprintln!("Error: No such volume: {name}");
                    status = 1;
                    continue;
                }
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("Error: cannot remove {name}: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_docker_takes_them() {
        let v = parse_volume("/srv/data:/data:ro").unwrap();
        assert_eq!(v.source, Source::Host("/srv/data".into()));
        assert_eq!((v.guest.as_str(), v.read_only), ("/data", true));
        let v = parse_volume("cache:/var/cache").unwrap();
        assert_eq!(v.source, Source::Named("cache".into()));
        assert!(!v.read_only);
        for bad in [
            "/a",
            "rel/dir:/x",
            "/a:b",
            "/a:/b:rx",
            "-x:/b",
            "/a:/b:ro:1",
            "/a b:/c",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qemu_and_kernel_arguments_name_each_export_by_tag() {
        let vols = [
            Volume {
                host: "/h/a,b".into(),
                guest: "/data".into(),
                read_only: false,
            },
            Volume {
                host: "/h/c".into(),
                guest: "/etc/conf".into(),
                read_only: true,
            },
        ];
        let args: Vec<String> = qemu_args(&vols, Machine::Microvm)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "-fsdev",
                "local,id=vol0,path=/h/a,,b,security_model=none",
                "-device",
                "virtio-9p-device,fsdev=vol0,mount_tag=vol0",
                "-fsdev",
                "local,id=vol1,path=/h/c,security_model=none,readonly=on",
                "-device",
                "virtio-9p-device,fsdev=vol1,mount_tag=vol1",
            ]
        );
        assert!(qemu_args(&vols, Machine::Q35)[1..].iter().any(
            |a| a.to_str() == Some("virtio-9p-pci,fsdev=vol0,mount_tag=vol0,disable-legacy=on")
        ));
        assert_eq!(
            kernel_args(&vols),
            [
                "coracle.volume=vol0:/data",
                "coracle.volume=vol1:/etc/conf:ro"
            ]
        );
    }
}
