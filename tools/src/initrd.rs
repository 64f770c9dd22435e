//! The initrd of one run: the `.coracle/` launch records, then the root filesystem.
//!
//! Layout per docs/guest-protocol.md ("Initrd"): `.coracle/{argv,env,exec,cwd}`, the optional
//! `.coracle/user` and `.coracle/etc/` records, then `.` (the
//! root directory), then every entry sorted by path bytes (so every directory precedes its
//! contents), then the trailer. The root is either a scanned host tree (`rootfs`) or, in the
//! single-binary mode, the program at its host path with the directories leading to it and to
//! the working directory. Bytes come from `cpio`; inputs from `launch`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use crate::cpio::CpioWriter;
use crate::env::Environment;
use crate::program::Program;
use crate::rootfs::Tree;

const RECORD_MODE: u32 = 0o644;

/// What the kernel runs, and how.
#[derive(Debug)]
pub struct Records<'a> {
    /// argv[0] as the user typed it, then the arguments.
    pub argv: &'a [OsString],
    pub env: &'a Environment,
    /// Absolute guest path of the executable (`.coracle/exec`).
    pub exec: &'a [u8],
    /// Absolute guest path of the initial working directory (`.coracle/cwd`).
    pub cwd: &'a [u8],
    /// Files for /etc (`.coracle/etc/NAME`): the network files Docker provides.
    pub etc: &'a [(String, String)],
    /// The user to run as (`.coracle/user`), when it is not root.
    pub user: Option<&'a User>,
}

/// The ids the program runs with: `-u` or the image's User, resolved in its /etc files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl User {
    /// The `.coracle/user` record: `UID GID [GROUP...]` in decimal, separated by spaces.
    pub fn record(&self) -> Vec<u8> {
        let mut ids = vec![self.uid, self.gid];
        ids.extend(&self.groups);
        ids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes()
    }

    /// Root without supplementary groups: what the guest assumes when no record is sent.
    pub fn is_plain_root(&self) -> bool {
        self.uid == 0 && self.gid == 0 && self.groups.is_empty()
    }
}

/// What the root filesystem of the archive holds.
#[derive(Debug, Clone, Copy)]
pub enum Root<'a> {
    /// The single-binary mode: the program at its host path (`Records::exec`); the directories
    /// leading to it and to `Records::cwd` are added as root-owned 0755 directories.
    Program(&'a Program),
    /// A whole root filesystem.
    Tree(&'a Tree),
    /// An image's root filesystem, built in memory from its layers.
    Image(&'a crate::image::tree::FsTree),
    /// None: the root filesystem is on the root drive (`root_image`); the archive holds the
    /// launch records alone.
    Device,
}

/// Writes the archive to `out` and returns it.
pub fn write_initrd<W: Write>(out: W, records: &Records<'_>, root: Root<'_>) -> io::Result<W> {
    let nul_terminated = |items: &mut dyn Iterator<Item = Vec<u8>>| {
        items.fold(Vec::new(), |mut acc, item| {
            acc.extend_from_slice(&item);
            acc.push(0);
            acc
        })
    };
    let argv = nul_terminated(&mut records.argv.iter().map(|a| a.as_bytes().to_vec()));
    let env = nul_terminated(&mut records.env.entries());
    let mut writer = CpioWriter::new(out);
    for (name, data) in [
        (&b".coracle/argv"[..], &argv[..]),
        (b".coracle/env", &env),
        (b".coracle/exec", records.exec),
        (b".coracle/cwd", records.cwd),
    ] {
        writer.add_file(name, RECORD_MODE, 0, data)?;
    }
    if let Some(user) = records.user.filter(|u| !u.is_plain_root()) {
        writer.add_file(b".coracle/user", RECORD_MODE, 0, &user.record())?;
    }
    for (name, data) in records.etc {
        let member = format!(".coracle/etc/{name}");
        writer.add_file(member.as_bytes(), RECORD_MODE, 0, data.as_bytes())?;
    }
    match root {
        Root::Tree(tree) => tree.write(&mut writer)?,
        Root::Image(tree) => tree.write(&mut writer)?,
        Root::Program(program) => write_program(&mut writer, program, records)?,
        Root::Device => {}
    }
    writer.finish()
}

fn write_program<W: Write>(
    writer: &mut CpioWriter<W>,
    program: &Program,
    records: &Records<'_>,
) -> io::Result<()> {
    archive_name(records.exec)?;
    archive_name(records.cwd)?;
    let mut list = program.packed.clone();
    list.add_program(records.exec, program.mode, program.mtime, records.cwd);
    list.write(writer, &program.bytes)
}

/// The archive name of an absolute path in the single-binary mode, cleaned lexically (no
/// leading `/`, no empty, `.` or `..` components); here only to check the path is absolute.
fn archive_name(path: &[u8]) -> io::Result<Vec<u8>> {
    if !path.starts_with(b"/") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not an absolute path", String::from_utf8_lossy(path)),
        ));
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    Ok(parts.join(&b'/'))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// (name, ino, mode, nlink, data) of each member of a newc archive: a minimal reader for
    /// the tests, independent of the writer.
    pub(crate) fn read_archive(mut bytes: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (ino, mode, nlink) = (field(0), field(1), field(4));
            let (filesize, namesize) = (field(6) as usize, field(11) as usize);
            let name = String::from_utf8(bytes[110..110 + namesize - 1].to_vec()).unwrap();
            let data_start = (110 + namesize).next_multiple_of(4);
            let data = bytes[data_start..data_start + filesize].to_vec();
            bytes = &bytes[(data_start + filesize).next_multiple_of(4)..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty());
                return out;
            }
            out.push((name, ino, mode, nlink, data));
        }
    }

    fn program(path: &str, mode: u32) -> Program {
        Program {
            path: path.into(),
            bytes: b"\x7fELF...".to_vec(),
            mode,
            mtime: 99,
            packed: Default::default(),
            note: None,
        }
    }

    fn build(program: &Program, argv: &[OsString], env: &Environment, cwd: &str) -> Vec<u8> {
        let records = Records {
            argv,
            env,
            exec: program.path.as_os_str().as_bytes(),
            cwd: cwd.as_bytes(),
            etc: &[],
            user: None,
        };
        write_initrd(Vec::new(), &records, Root::Program(program)).unwrap()
    }

    #[test]
    fn user_record_after_the_launch_records() {
        let program = program("/bin/prog", 0o755);
        let env = Environment::default();
        let argv = [OsString::from("prog")];
        let user = User {
            uid: 1000,
            gid: 100,
            groups: vec![27, 4],
        };
        let mut records = Records {
            argv: &argv,
            env: &env,
            exec: b"/bin/prog",
            cwd: b"/",
            etc: &[],
            user: Some(&user),
        };
        let archive = write_initrd(Vec::new(), &records, Root::Program(&program)).unwrap();
        let members = read_archive(&archive);
        assert_eq!(members[4].0, ".coracle/user");
        assert_eq!(members[4].4, b"1000 100 27 4");
        // Root without groups sends nothing: the guest's default.
        let root = User {
            uid: 0,
            gid: 0,
            groups: vec![],
        };
        records.user = Some(&root);
        let archive = write_initrd(Vec::new(), &records, Root::Program(&program)).unwrap();
        assert!(read_archive(&archive)
            .iter()
            .all(|m| m.0 != ".coracle/user"));
    }

    #[test]
    fn single_binary_layout() {
        let program = program("/opt/app/bin/prog", 0o755);
        let argv = ["prog".into(), "-x".into(), OsString::from("a b")];
        let mut env = Environment::default();
        env.set("A".into(), "1".into());
        env.set("B".into(), "".into());
        let bytes = build(&program, &argv, &env, "/home/u");
        assert_eq!(bytes, build(&program, &argv, &env, "/home/u"));
        let entries = read_archive(&bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                ".coracle/argv",
                ".coracle/env",
                ".coracle/exec",
                ".coracle/cwd",
                ".",
                "home",
                "home/u",
                "opt",
                "opt/app",
                "opt/app/bin",
                "opt/app/bin/prog",
            ]
        );
        let inos: Vec<u32> = entries.iter().map(|e| e.1).collect();
        assert_eq!(inos, (1..=11).collect::<Vec<u32>>());
        let get = |name: &str| entries.iter().find(|e| e.0 == name).unwrap();
        assert_eq!(get(".coracle/argv").4, b"prog\0-x\0a b\0");
        assert_eq!(get(".coracle/env").4, b"A=1\0B=\0");
        assert_eq!(get(".coracle/exec").4, b"/opt/app/bin/prog");
        assert_eq!(get(".coracle/cwd").4, b"/home/u");
        assert_eq!(get(".coracle/cwd").2, 0o100644);
        // Directories: 0755, nlink 2 + subdirectories.
        assert_eq!((get(".").2, get(".").3), (0o040755, 4));
        assert_eq!((get("opt/app").2, get("opt/app").3), (0o040755, 3));
        assert_eq!((get("home/u").2, get("home/u").3), (0o040755, 2));
        assert_eq!(get("opt/app/bin/prog").2, 0o100755);
        assert_eq!(get("opt/app/bin/prog").4, b"\x7fELF...");
    }

    #[test]
    fn root_cwd_adds_no_directory() {
        let bytes = build(
            &program("/prog", 0o700),
            &["p".into()],
            &Environment::default(),
            "/",
        );
        let names: Vec<String> = read_archive(&bytes).into_iter().map(|e| e.0).collect();
        assert_eq!(
            names,
            [
                ".coracle/argv",
                ".coracle/env",
                ".coracle/exec",
                ".coracle/cwd",
                ".",
                "prog"
            ]
        );
    }

    #[test]
    fn cwd_is_cleaned_for_the_directory_entries_only() {
        let bytes = build(
            &program("/bin/p", 0o755),
            &["p".into()],
            &Environment::default(),
            "/a/./b/../c//",
        );
        let entries = read_archive(&bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names[4..], [".", "a", "a/c", "bin", "bin/p"]);
        assert_eq!(entries[3].4, b"/a/./b/../c//");
    }
}
