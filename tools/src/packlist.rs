//! The files of the single-binary mode: host paths packed at the same paths in the guest.
//!
//! The program goes at its canonical path; a dynamic program's interpreter, libraries and
//! their configuration files (`libraries`) at the paths its dynamic linker opens. Those paths
//! are walked on the host component by component: a symlink on the way (`/lib64 ->
//! usr/lib64`, `libz.so.1 -> libz.so.1.2.13`) is packed as the same symlink and followed, so
//! the guest's tree resolves the same way as the host's; directories become root-owned 0755
//! directories. `initrd` writes the list after the launch records.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::cpio::{self, CpioWriter, Header};
use crate::resolve::MAX_SYMLINKS;

const DIR_MODE: u32 = 0o755;

/// One archive entry, named by its path below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Dir,
    Symlink(Vec<u8>),
    /// A host file, copied when the archive is written.
    File {
        host: PathBuf,
        perm: u32,
        mtime: u32,
        size: u32,
    },
    /// The program's bytes, given to [`PackList::write`].
    Program {
        perm: u32,
        mtime: u32,
    },
}

/// What the single-binary mode's archive holds besides the launch records.
#[derive(Debug, Clone, Default)]
pub struct PackList {
    items: BTreeMap<Vec<u8>, Item>,
}

/// The components of `path`, lexically (empty and `.` dropped).
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

fn parent(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|&b| b == b'/')
        .map_or(&b""[..], |at| &name[..at])
}

impl PackList {
    /// Packs the host's regular file at the absolute `path`, with every directory and symlink
    /// met on the way to it.
    pub fn add_host_file(&mut self, path: &[u8]) -> io::Result<()> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let mut todo = components(path);
        let mut dir: Vec<u8> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            if part == b".." {
                dir = parent(&dir).to_vec();
                continue;
            }
            let name = join(&dir, &part);
            let host = PathBuf::from(OsStr::from_bytes(&[b"/", &name[..]].concat()));
            let meta = fs::symlink_metadata(&host)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", host.display())))?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::other(format!(
                        "{}: too many levels of symbolic links",
                        shown()
                    )));
                }
                let target = fs::read_link(&host)?.into_os_string().into_vec();
                let mut next = components(&target);
                if target.starts_with(b"/") {
                    dir.clear();
                }
                next.extend(todo);
                todo = next;
                self.items.entry(name).or_insert(Item::Symlink(target));
            } else if meta.is_dir() {
                self.items.entry(name.clone()).or_insert(Item::Dir);
                dir = name;
            } else if meta.is_file() && todo.is_empty() {
                let item = Item::File {
                    host,
                    perm: meta.mode() & 0o7777,
                    mtime: u32::try_from(meta.mtime().max(0)).unwrap_or(u32::MAX),
                    size: cpio::size_u32(meta.len())?,
                };
                self.items.entry(name).or_insert(item);
                return Ok(());
            } else {
                return Err(io::Error::other(format!("{}: not a regular file", shown())));
            }
        }
        Err(io::Error::other(format!("{}: a directory", shown())))
    }

    /// Adds the directories of the absolute `path` lexically (the last component too when
    /// `last_is_dir`), stopping at a symlink already in the list (the guest follows it).
    fn add_dirs(&mut self, path: &[u8], last_is_dir: bool) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for part in components(path) {
            if part == b".." {
                parts.pop();
            } else {
                parts.push(part);
            }
        }
        let last = if last_is_dir { None } else { parts.pop() };
        let mut name = Vec::new();
        for part in parts {
            name = join(&name, &part);
            match self.items.entry(name.clone()).or_insert(Item::Dir) {
                Item::Dir => {}
                _ => return Vec::new(),
            }
        }
        last.map_or(name.clone(), |l| join(&name, &l))
    }

    /// Adds the program at the absolute `path` (its bytes come with [`PackList::write`]) and
    /// the directories of the working directory `cwd`.
    pub fn add_program(&mut self, path: &[u8], perm: u32, mtime: u32, cwd: &[u8]) {
        let name = self.add_dirs(path, false);
        if !name.is_empty() {
            self.items.insert(name, Item::Program { perm, mtime });
        }
        self.add_dirs(cwd, true);
    }

    /// Writes `.` and every entry in name order (directories before their contents).
    pub fn write<W: Write>(&self, out: &mut CpioWriter<W>, program: &[u8]) -> io::Result<()> {
        let subdirs = |dir: &[u8]| {
            self.items
                .iter()
                .filter(|(name, item)| **item == Item::Dir && parent(name) == dir)
                .count() as u32
        };
        out.add_dir(b".", DIR_MODE, 0, 2 + subdirs(b""))?;
        for (name, item) in &self.items {
            match item {
                Item::Dir => out.add_dir(name, DIR_MODE, 0, 2 + subdirs(name))?,
                Item::Program { perm, mtime } => out.add_file(name, *perm, *mtime, program)?,
                Item::Symlink(target) => {
                    let header = Header {
                        name,
                        ino: out.new_ino(),
                        mode: cpio::S_IFLNK | 0o777,
                        uid: 0,
                        gid: 0,
                        nlink: 1,
                        mtime: 0,
                        filesize: cpio::size_u32(target.len() as u64)?,
                    };
                    out.add(&header, target.as_slice())?;
                }
                Item::File {
                    host,
                    perm,
                    mtime,
                    size,
                } => {
                    let file = File::open(host).map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot read {}: {e}", host.display()))
                    })?;
                    let header = Header {
                        name,
                        ino: out.new_ino(),
                        mode: cpio::S_IFREG | perm,
                        uid: 0,
                        gid: 0,
                        nlink: 1,
                        mtime: *mtime,
                        filesize: *size,
                    };
                    out.add(&header, file)?;
                }
            }
        }
        Ok(())
    }

    /// How many bytes of file data the list packs (for `--timing` and the notes).
    pub fn file_bytes(&self) -> u64 {
        self.items
            .values()
            .map(|i| match i {
                Item::File { size, .. } => u64::from(*size),
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::tempdir::TempDir;

    fn names(list: &PackList) -> Vec<(String, String)> {
        list.items
            .iter()
            .map(|(name, item)| {
                let what = match item {
                    Item::Dir => "dir".to_string(),
                    Item::Symlink(t) => format!("-> {}", String::from_utf8_lossy(t)),
                    Item::File { .. } => "file".into(),
                    Item::Program { .. } => "program".into(),
                };
                (String::from_utf8_lossy(name).into_owned(), what)
            })
            .collect()
    }

    #[test]
    fn symlinks_on_the_way_are_kept_and_followed() {
        let tmp = TempDir::new().unwrap();
        let base = fs::canonicalize(tmp.path()).unwrap();
        let b = base.as_os_str().as_bytes().to_vec();
        let rel = String::from_utf8(b[1..].to_vec()).unwrap();
        fs::create_dir_all(base.join("usr/lib/x")).unwrap();
        fs::write(base.join("usr/lib/x/libz.so.1.2"), b"lib").unwrap();
        symlink("usr/lib", base.join("lib")).unwrap();
        symlink("libz.so.1.2", base.join("usr/lib/x/libz.so.1")).unwrap();
        // An absolute symlink restarts at the root.
        symlink(base.join("lib/x/libz.so.1"), base.join("abs")).unwrap();
        let mut list = PackList::default();
        list.add_host_file(&[&b[..], b"/lib/x/libz.so.1"].concat())
            .unwrap();
        list.add_host_file(&[&b[..], b"/abs"].concat()).unwrap();
        let got: Vec<(String, String)> = names(&list)
            .into_iter()
            .filter(|(n, _)| n.starts_with(&rel) && n.len() > rel.len())
            .map(|(n, w)| (n[rel.len() + 1..].to_string(), w))
            .collect();
        let want = [
            ("abs", format!("-> {}/lib/x/libz.so.1", base.display())),
            ("lib", "-> usr/lib".into()),
            ("usr", "dir".into()),
            ("usr/lib", "dir".into()),
            ("usr/lib/x", "dir".into()),
            ("usr/lib/x/libz.so.1", "-> libz.so.1.2".into()),
            ("usr/lib/x/libz.so.1.2", "file".into()),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, w)| (n.to_string(), w.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(list.file_bytes(), 3);
        // Directories and missing files are errors.
        assert!(list.add_host_file(&b).is_err());
        assert!(list.add_host_file(&[&b[..], b"/missing"].concat()).is_err());
        symlink("loop", base.join("loop")).unwrap();
        let err = list
            .add_host_file(&[&b[..], b"/loop"].concat())
            .unwrap_err();
        assert!(err.to_string().contains("too many levels"), "{err}");
    }

    #[test]
    fn the_cwd_stops_at_a_packed_symlink() {
        let mut list = PackList::default();
        list.items
            .insert(b"lib".to_vec(), Item::Symlink(b"usr/lib".to_vec()));
        list.add_program(b"/opt/p", 0o755, 0, b"/lib/work/dir");
        assert_eq!(
            names(&list),
            [
                ("lib".to_string(), "-> usr/lib".to_string()),
                ("opt".into(), "dir".into()),
                ("opt/p".into(), "program".into())
            ]
        );
    }
}
