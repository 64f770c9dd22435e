//! The shared libraries a dynamically linked host program needs, found on the host the way its
//! dynamic linker will look for them in the guest.
//!
//! Nothing is run (`ldd` may execute the program): the program and every library found are read
//! with goblin, and each `DT_NEEDED` name is looked up as the interpreter named by `PT_INTERP`
//! does it. glibc's ld.so (`elf/dl-load.c`, ld.so(8)): a name with a `/` is a path; else the
//! `DT_RPATH` of the object and of each object that loaded it, up to the program (only for an
//! object without `DT_RUNPATH`; a loader with `DT_RUNPATH` lends no `DT_RPATH`), then
//! `LD_LIBRARY_PATH`, then the object's own `DT_RUNPATH`, then `/etc/ld.so.cache` (`ldcache`),
//! then the system directories, the last two skipped for an object linked `-z nodeflib`.
//! `$ORIGIN`, `$LIB` and `$PLATFORM` (bare or in braces) expand as Debian's ld.so expands them.
//! musl's (`ldso/dynlink.c`): its reserved names (`libc.so`, `libpthread.so.0`...) are the
//! interpreter itself; else `LD_LIBRARY_PATH`, the `DT_RUNPATH`/`DT_RPATH` of the object and of
//! its loaders, then the lines of `/etc/ld-musl-x86_64.path` or its built-in default. A
//! candidate that is not an x86-64 ELF is passed over, as both do. The `glibc-hwcaps/` and
//! legacy hwcap subdirectories are not searched: the guest's dynamic linker looks there first
//! and, finding nothing, falls back to the plain directory, where the baseline library is.
//!
//! `launch` packs what [`Closure`] lists (with `packlist`), at the paths the dynamic linker will
//! open, so the single-binary mode runs dynamic programs without a root filesystem.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use goblin::elf::{dynamic::DF_1_NODEFLIB, header::EM_X86_64, Elf};

use crate::ldcache::LdCache;

/// glibc's cache, packed too: the guest's ld.so reads it first.
pub const LD_SO_CACHE: &str = "/etc/ld.so.cache";
/// musl's search path file for x86-64.
pub const MUSL_PATH_FILE: &str = "/etc/ld-musl-x86_64.path";
/// Debian's glibc system directories (`ld.so --help`, "System search directories").
const GLIBC_SYSTEM_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib",
    "/usr/lib",
];
/// What Debian's glibc expands `$LIB` and `$PLATFORM` to on x86-64.
const GLIBC_LIB: &str = "lib/x86_64-linux-gnu";
const GLIBC_PLATFORM: &str = "x86_64";
/// glibc's C library, and what it loads itself with dlopen when a program needs it:
/// `libgcc_s.so.1` for unwinding (`pthread_cancel`, `pthread_exit`, `backtrace`; without it
/// they abort with "libgcc_s.so.1 must be installed"). Packed when the host has it.
const GLIBC_LIBC: &[u8] = b"libc.so.6";
const GLIBC_DLOPENED: &[&str] = &["libgcc_s.so.1"];
/// musl's built-in search path when the path file is absent.
const MUSL_DEFAULT_DIRS: &[&str] = &["/lib", "/usr/local/lib", "/usr/lib"];
/// The library names musl's dynamic linker answers with itself.
const MUSL_RESERVED: &[&str] = &["c", "pthread", "rt", "m", "dl", "util", "xnet"];
/// ld.so's limit is memory; this only stops a malformed chain of libraries early.
const MAX_LIBRARIES: usize = 4096;

/// Which dynamic linker's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Glibc,
    Musl,
}

impl Flavour {
    /// Tells the flavour from the interpreter's path: musl's is `ld-musl-<arch>.so.1`.
    pub fn of_interpreter(interp: &[u8]) -> Flavour {
        let name = interp.rsplit(|&b| b == b'/').next().unwrap_or_default();
        if name.starts_with(b"ld-musl-") {
            Flavour::Musl
        } else {
            Flavour::Glibc
        }
    }
}

/// Where the lookups end, after the per-object paths: the cache and the system directories.
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    /// glibc's `/etc/ld.so.cache`, when it exists and parses.
    pub cache: Option<LdCache>,
    /// The system directories, in order.
    pub system_dirs: Vec<Vec<u8>>,
    /// `LD_LIBRARY_PATH` as the program will see it.
    pub library_path: Vec<Vec<u8>>,
}

impl SearchConfig {
    /// The host's configuration for `flavour`, with the program's `LD_LIBRARY_PATH`.
    pub fn host(flavour: Flavour, library_path: Option<&[u8]>) -> SearchConfig {
        let library_path = library_path
            .map(|p| split_path(p, b":;"))
            .unwrap_or_default();
        match flavour {
            Flavour::Glibc => SearchConfig {
                cache: std::fs::read(LD_SO_CACHE)
                    .ok()
                    .and_then(|bytes| LdCache::parse(&bytes).ok()),
                system_dirs: GLIBC_SYSTEM_DIRS
                    .iter()
                    .map(|d| d.as_bytes().to_vec())
                    .collect(),
                library_path,
            },
            Flavour::Musl => SearchConfig {
                cache: None,
                system_dirs: match std::fs::read(MUSL_PATH_FILE) {
                    Ok(text) => split_path(&text, b":\n"),
                    Err(_) => MUSL_DEFAULT_DIRS
                        .iter()
                        .map(|d| d.as_bytes().to_vec())
                        .collect(),
                },
                library_path,
            },
        }
    }
}

/// Non-empty entries of a search path.
fn split_path(text: &[u8], separators: &[u8]) -> Vec<Vec<u8>> {
    text.split(|b| separators.contains(b))
        .filter(|d| !d.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A library found: the name asked for and the path the dynamic linker opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    pub needed: Vec<u8>,
    pub path: Vec<u8>,
}

/// Everything a dynamic program loads before `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub flavour: Flavour,
    /// `PT_INTERP`, as written in the program.
    pub interpreter: Vec<u8>,
    /// In load order (breadth first, as ld.so maps them).
    pub libraries: Vec<Library>,
}

/// Why the libraries of a program cannot all be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibraryError {
    #[error("{file}: {why}")]
    BadElf { file: String, why: String },
    #[error("cannot find {needed} (needed by {by}) on this host{}", searched_note(.searched))]
    NotFound {
        needed: String,
        by: String,
        searched: Vec<String>,
    },
    #[error("more than {MAX_LIBRARIES} libraries")]
    TooMany,
}

fn searched_note(dirs: &[String]) -> String {
    if dirs.is_empty() {
        String::new()
    } else {
        format!("; searched {}", dirs.join(", "))
    }
}

/// What the search needs of one loaded object.
#[derive(Debug)]
struct Object {
    /// The path it was opened at (its `$ORIGIN` is the directory of that).
    path: Vec<u8>,
    needed: Vec<Vec<u8>>,
    rpath: Vec<Vec<u8>>,
    runpath: Vec<Vec<u8>>,
    has_runpath: bool,
    nodeflib: bool,
    /// The object that loaded it (an index into the list), `None` for the program.
    loader: Option<usize>,
}

/// The dynamic-linking facts of an x86-64 ELF file, or why it is not one.
fn read_object(path: &[u8], bytes: &[u8], loader: Option<usize>) -> Result<Object, String> {
    let elf = Elf::parse(bytes).map_err(|e| format!("not a readable ELF file ({e})"))?;
    if !elf.is_64 || elf.header.e_machine != EM_X86_64 {
        return Err("not an x86-64 ELF file".into());
    }
    let paths = |list: &[&str]| {
        list.iter()
            .flat_map(|p| split_path(p.as_bytes(), b":"))
            .collect::<Vec<_>>()
    };
    let nodeflib = elf
        .dynamic
        .as_ref()
        .is_some_and(|d| d.info.flags_1 & DF_1_NODEFLIB != 0);
    Ok(Object {
        path: path.to_vec(),
        needed: elf
            .libraries
            .iter()
            .map(|l| l.as_bytes().to_vec())
            .collect(),
        rpath: paths(&elf.rpaths),
        runpath: paths(&elf.runpaths),
        has_runpath: !elf.runpaths.is_empty(),
        nodeflib,
        loader,
    })
}

/// The directory part of `path` (`/` for a file at the root, `.` for a bare name).
fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(at) => &path[..at],
        None => b".",
    }
}

/// Replaces the dynamic string tokens of one search-path entry. `None` drops the entry, as
/// glibc drops one whose token it cannot expand.
fn expand(entry: &[u8], origin: &[u8], flavour: Flavour) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(entry.len());
    let mut rest = entry;
    while let Some(at) = rest.iter().position(|&b| b == b'$') {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = if let Some(braced) = rest.strip_prefix(b"{") {
            let close = braced.iter().position(|&b| b == b'}')?;
            (&braced[..close], &braced[close + 1..])
        } else {
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        let value: &[u8] = match (name, flavour) {
            (b"ORIGIN", _) => origin,
            (b"LIB", Flavour::Glibc) => GLIBC_LIB.as_bytes(),
            (b"PLATFORM", Flavour::Glibc) => GLIBC_PLATFORM.as_bytes(),
            _ => return None,
        };
        out.extend_from_slice(value);
        rest = after;
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// The reading of files, so tests can count what is opened; the host's file system otherwise.
pub trait Files {
    /// The bytes of the regular file at `path`, or `None` when there is none.
    fn read(&self, path: &[u8]) -> Option<Vec<u8>>;
}

/// The host's files, relative paths taken from `cwd`.
#[derive(Debug)]
pub struct HostFiles<'a> {
    pub cwd: &'a Path,
}

impl Files for HostFiles<'_> {
    fn read(&self, path: &[u8]) -> Option<Vec<u8>> {
        let path: PathBuf = self.cwd.join(OsStr::from_bytes(path));
        std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        std::fs::read(path).ok()
    }
}

/// Finds every library of the dynamic program at `exe` (its canonical path, the `$ORIGIN` of
/// the program as `/proc/self/exe` gives it) whose bytes are `bytes`.
pub fn resolve(
    exe: &[u8],
    bytes: &[u8],
    config: &SearchConfig,
    files: &dyn Files,
) -> Result<Closure, LibraryError> {
    let shown = |path: &[u8]| String::from_utf8_lossy(path).into_owned();
    let bad = |path: &[u8], why: String| LibraryError::BadElf {
        file: shown(path),
        why,
    };
    let elf = Elf::parse(bytes).map_err(|e| bad(exe, e.to_string()))?;
    let interpreter = elf
        .interpreter
        .ok_or_else(|| bad(exe, "has no interpreter (PT_INTERP)".into()))?
        .as_bytes()
        .to_vec();
    drop(elf);
    let flavour = Flavour::of_interpreter(&interpreter);
    let mut objects = vec![read_object(exe, bytes, None).map_err(|why| bad(exe, why))?];
    let mut libraries: Vec<Library> = Vec::new();
    let mut seen_names: HashSet<Vec<u8>> = HashSet::new();
    let mut seen_paths: HashSet<Vec<u8>> = HashSet::new();
    let mut queue = VecDeque::from([0usize]);
    while let Some(index) = queue.pop_front() {
        let mut wanted: Vec<(Vec<u8>, bool)> = objects[index]
            .needed
            .iter()
            .map(|n| (n.clone(), true))
            .collect();
        // objects[i] was loaded as libraries[i - 1].
        let is_libc = index > 0 && libraries[index - 1].needed == GLIBC_LIBC;
        if flavour == Flavour::Glibc && is_libc {
            wanted.extend(
                GLIBC_DLOPENED
                    .iter()
                    .map(|n| (n.as_bytes().to_vec(), false)),
            );
        }
        for (needed, required) in wanted {
            if flavour == Flavour::Musl && musl_reserved(&needed) {
                continue;
            }
            // The dynamic linker is loaded already: glibc matches libc's need of
            // `ld-linux-x86-64.so.2` against its name.
            if needed == interpreter
                || Some(&needed[..]) == interpreter.rsplit(|&b| b == b'/').next()
            {
                continue;
            }
            if !seen_names.insert(needed.clone()) {
                continue;
            }
            let (path, lib_bytes) = match find(&objects, index, &needed, flavour, config, files) {
                Ok(found) => found,
                Err(_) if !required => continue,
                Err(e) => return Err(e),
            };
            if !seen_paths.insert(path.clone()) {
                continue;
            }
            if objects.len() >= MAX_LIBRARIES {
                return Err(LibraryError::TooMany);
            }
            let object =
                read_object(&path, &lib_bytes, Some(index)).map_err(|why| bad(&path, why))?;
            queue.push_back(objects.len());
            objects.push(object);
            libraries.push(Library { needed, path });
        }
    }
    Ok(Closure {
        flavour,
        interpreter,
        libraries,
    })
}

/// musl's `libc.so`, `libm.so.6`...: `lib` + a reserved name + `.` or the end.
fn musl_reserved(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b"lib") else {
        return false;
    };
    MUSL_RESERVED.iter().any(|r| {
        rest.strip_prefix(r.as_bytes())
            .is_some_and(|after| after.is_empty() || after.starts_with(b"."))
    })
}

/// Looks `needed` up for the object at `index`: the path and bytes of the first match.
fn find(
    objects: &[Object],
    index: usize,
    needed: &[u8],
    flavour: Flavour,
    config: &SearchConfig,
    files: &dyn Files,
) -> Result<(Vec<u8>, Vec<u8>), LibraryError> {
    let object = &objects[index];
    let not_found = |searched: Vec<String>| LibraryError::NotFound {
        needed: String::from_utf8_lossy(needed).into_owned(),
        by: String::from_utf8_lossy(&object.path).into_owned(),
        searched,
    };
    let usable = |path: &[u8]| {
        files
            .read(path)
            .filter(|b| read_object(path, b, None).is_ok())
    };
    if needed.contains(&b'/') {
        return usable(needed)
            .map(|b| (needed.to_vec(), b))
            .ok_or_else(|| not_found(Vec::new()));
    }
    // The directories in search order, each with the object whose $ORIGIN it expands against.
    let mut dirs: Vec<Vec<u8>> = Vec::new();
    let mut from = |list: &[Vec<u8>], origin_of: &Object| {
        let origin = dirname(&origin_of.path);
        dirs.extend(list.iter().filter_map(|d| expand(d, origin, flavour)));
    };
    let chain = std::iter::successors(Some(index), |&i| objects[i].loader);
    match flavour {
        Flavour::Glibc => {
            if !object.has_runpath {
                for i in chain.filter(|&i| !objects[i].has_runpath) {
                    from(&objects[i].rpath, &objects[i]);
                }
            }
            from(&config.library_path, &objects[0]);
            from(&object.runpath, object);
        }
        Flavour::Musl => {
            from(&config.library_path, &objects[0]);
            for i in chain {
                let own = if objects[i].has_runpath {
                    &objects[i].runpath
                } else {
                    &objects[i].rpath
                };
                from(own, &objects[i]);
            }
        }
    }
    let mut tried = Vec::new();
    let join = |dir: &[u8]| {
        let mut path = dir.to_vec();
        if !path.ends_with(b"/") {
            path.push(b'/');
        }
        path.extend_from_slice(needed);
        path
    };
    for dir in &dirs {
        let path = join(dir);
        if let Some(bytes) = usable(&path) {
            return Ok((path, bytes));
        }
        tried.push(String::from_utf8_lossy(dir).into_owned());
    }
    if object.nodeflib {
        return Err(not_found(tried));
    }
    if let Some(path) = config.cache.as_ref().and_then(|c| c.lookup(needed)) {
        if let Some(bytes) = usable(path) {
            return Ok((path.to_vec(), bytes));
        }
    }
    for dir in &config.system_dirs {
        let path = join(dir);
        if let Some(bytes) = usable(&path) {
            return Ok((path, bytes));
        }
        tried.push(String::from_utf8_lossy(dir).into_owned());
    }
    Err(not_found(tried))
}

#[cfg(test)]
#[path = "libraries_tests.rs"]
mod tests;
