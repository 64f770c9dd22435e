//! The initrd of one run: the program at its host path plus the `.coracle/` launch records.
//!
//! Layout per docs/guest-protocol.md: entries sorted by path (so every directory precedes its
//! contents), the program's parent directories and the working directory's, then
//! `.coracle/{argv,env,exec,cwd}`. Bytes come from `cpio`; inputs from `program` and `env`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cpio::CpioWriter;
use crate::env::Environment;
use crate::program::Program;

const DIR_MODE: u32 = 0o755;
const RECORD_MODE: u32 = 0o644;

enum Entry<'a> {
    Dir,
    File {
        mode: u32,
        mtime: u32,
        data: std::borrow::Cow<'a, [u8]>,
    },
}

/// Builds the archive. `argv[0]` is the name as the user typed it; `cwd` is absolute.
pub fn build_initrd(
    program: &Program,
    argv: &[OsString],
    env: &Environment,
    cwd: &Path,
) -> io::Result<Vec<u8>> {
    let mut entries: BTreeMap<Vec<u8>, Entry<'_>> = BTreeMap::new();
    if let Some(parent) = program.path.parent() {
        add_dirs(parent, &mut entries)?;
    }
    add_dirs(cwd, &mut entries)?;
    let exec = archive_name(&program.path)?;
    entries.insert(
        exec,
        Entry::File {
            mode: program.mode,
            mtime: program.mtime,
            data: program.bytes.as_slice().into(),
        },
    );

    let nul_terminated = |items: &mut dyn Iterator<Item = Vec<u8>>| {
        items.fold(Vec::new(), |mut acc, item| {
            acc.extend_from_slice(&item);
            acc.push(0);
            acc
        })
    };
    let argv_bytes = nul_terminated(&mut argv.iter().map(|a| a.as_bytes().to_vec()));
    let env_bytes = nul_terminated(&mut env.entries());
    let record = |data: Vec<u8>| Entry::File {
        mode: RECORD_MODE,
        mtime: 0,
        data: data.into(),
    };
    entries.insert(b".coracle".to_vec(), Entry::Dir);
    entries.insert(b".coracle/argv".to_vec(), record(argv_bytes));
    entries.insert(b".coracle/env".to_vec(), record(env_bytes));
    entries.insert(
        b".coracle/exec".to_vec(),
        record(program.path.as_os_str().as_bytes().to_vec()),
    );
    entries.insert(
        b".coracle/cwd".to_vec(),
        record(cwd.as_os_str().as_bytes().to_vec()),
    );

    let mut writer = CpioWriter::new(Vec::new());
    for (name, entry) in &entries {
        match entry {
            Entry::Dir => writer.add_dir(name, DIR_MODE, 0)?,
            Entry::File { mode, mtime, data } => writer.add_file(name, *mode, *mtime, data)?,
        }
    }
    writer.finish()
}

/// Adds `dir` and each of its ancestors (but not `/`) as directories.
fn add_dirs(dir: &Path, entries: &mut BTreeMap<Vec<u8>, Entry<'_>>) -> io::Result<()> {
    for ancestor in dir.ancestors() {
        let name = archive_name(ancestor)?;
        if !name.is_empty() {
            entries.entry(name).or_insert(Entry::Dir);
        }
    }
    Ok(())
}

/// The archive name of an absolute host path: no leading `/`.
fn archive_name(path: &Path) -> io::Result<Vec<u8>> {
    let bytes = path.as_os_str().as_bytes();
    match bytes.strip_prefix(b"/") {
        Some(rest) => Ok(rest.strip_suffix(b"/").unwrap_or(rest).to_vec()),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not an absolute path", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and contents of a newc archive (a minimal reader for the tests).
    fn read_archive(mut bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
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
            let (mode, filesize, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let name = String::from_utf8(bytes[110..110 + namesize - 1].to_vec()).unwrap();
            let data_start = (110 + namesize).next_multiple_of(4);
            let data = bytes[data_start..data_start + filesize].to_vec();
            bytes = &bytes[(data_start + filesize).next_multiple_of(4)..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty());
                return out;
            }
            out.push((name, mode, data));
        }
    }

    #[test]
    fn layout() {
        let program = Program {
            path: "/opt/app/bin/prog".into(),
            bytes: b"\x7fELF...".to_vec(),
            mode: 0o755,
            mtime: 99,
        };
        let argv = ["prog".into(), "-x".into(), OsString::from("a b")];
        let mut env = Environment::default();
        env.set("A".into(), "1".into());
        env.set("B".into(), "".into());
        let bytes = build_initrd(&program, &argv, &env, Path::new("/home/u")).unwrap();
        assert_eq!(
            bytes,
            build_initrd(&program, &argv, &env, Path::new("/home/u")).unwrap()
        );
        let entries = read_archive(&bytes);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                ".coracle",
                ".coracle/argv",
                ".coracle/cwd",
                ".coracle/env",
                ".coracle/exec",
                "home",
                "home/u",
                "opt",
                "opt/app",
                "opt/app/bin",
                "opt/app/bin/prog",
            ]
        );
        let get = |name: &str| entries.iter().find(|(n, _, _)| n == name).unwrap();
        assert_eq!(get(".coracle/argv").2, b"prog\0-x\0a b\0");
        assert_eq!(get(".coracle/env").2, b"A=1\0B=\0");
        assert_eq!(get(".coracle/exec").2, b"/opt/app/bin/prog");
        assert_eq!(get(".coracle/cwd").2, b"/home/u");
        assert_eq!(get("opt/app").1, 0o040755);
        assert_eq!(get("opt/app/bin/prog").1, 0o100755);
        assert_eq!(get("opt/app/bin/prog").2, b"\x7fELF...");
    }

    #[test]
    fn root_cwd_adds_no_directory() {
        let program = Program {
            path: "/prog".into(),
            bytes: vec![],
            mode: 0o700,
            mtime: 0,
        };
        let bytes = build_initrd(
            &program,
            &["p".into()],
            &Environment::default(),
            Path::new("/"),
        )
        .unwrap();
        let names: Vec<String> = read_archive(&bytes).into_iter().map(|e| e.0).collect();
        assert_eq!(
            names,
            [
                ".coracle",
                ".coracle/argv",
                ".coracle/cwd",
                ".coracle/env",
                ".coracle/exec",
                "prog"
            ]
        );
    }
}
