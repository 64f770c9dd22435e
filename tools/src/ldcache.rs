//! A checked reader of glibc's `/etc/ld.so.cache`: which file ld.so loads for a soname.
//!
//! Hand-written because no maintained crate parses this file (it is glibc's private format,
//! written by `ldconfig`). Two layouts exist: the "new" one, magic `glibc-ld.so.cache` then
//! version `1.1` (what glibc writes by default since 2.32, and all Debian 12 has), and the
//! libc5-era "old" one, magic `ld.so-1.7.0`, which older ldconfigs wrote in front of the new
//! one (the new header then follows at the next 8-byte boundary). Only the new table is read,
//! as glibc's `_dl_load_cache_lookup` does when it is there.
//!
//! New layout (little-endian here, `flags` byte says so): a 48-byte header
//! `magic[17] version[3] nlibs:u32 len_strings:u32 flags:u8 pad[3] extension_offset:u32
//! unused[3]:u32`, then `nlibs` 24-byte entries `flags:i32 key:u32 value:u32 osversion:u32
//! hwcap:u64`, then the strings. `key` (the soname) and `value` (the path) are offsets from the
//! start of the new header. [`LdCache::parse`] checks every offset once; lookups cannot panic.
//! `libraries` uses it for programs whose interpreter is glibc's.

use thiserror::Error;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;

/// `flags` of an entry: the low byte is the kind (`FLAG_ELF_LIBC6`), the next the
/// architecture (`FLAG_X8664_LIB64`), from glibc's `ldconfig.h`.
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_ARCH_MASK: i32 = 0xff00;
const FLAG_X8664_LIB64: i32 = 0x0300;
/// `hwcap` bit 62: the entry is for a `glibc-hwcaps/` subdirectory (glibc 2.33+), chosen by
/// the CPU at run time. Those are skipped: the baseline entry runs on every x86-64 CPU.
const HWCAP_EXTENSION: u64 = 1 << 62;
/// The header's `flags` byte: 2 is little-endian (`cache_file_new_flags_endian_little`), 0 is
/// "unknown" (older ldconfigs), 3 big-endian.
const ENDIAN_BIG: u8 = 3;

/// Why a cache file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LdCacheError {
    #[error("not an ld.so cache (unknown magic)")]
    BadMagic,
    #[error("an old-format (libc5) cache without the new glibc table")]
    OldOnly,
    #[error("a big-endian cache")]
    BigEndian,
    #[error("truncated: {0}")]
    Truncated(&'static str),
    #[error("entry {index}: its {what} string lies outside the file")]
    BadString { index: usize, what: &'static str },
}

/// One usable entry: a soname and the absolute path ldconfig found it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub soname: Vec<u8>,
    pub path: Vec<u8>,
}

/// The x86-64 glibc entries of a cache, in file order (ldconfig sorts them, most preferred
/// first for each name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdCache {
    entries: Vec<CacheEntry>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    Some(u32::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    Some(u64::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}

/// The NUL-terminated string at `offset` of `table`.
fn string_at(table: &[u8], offset: u32) -> Option<&[u8]> {
    let rest = table.get(usize::try_from(offset).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

impl LdCache {
    /// Checks and reads a whole cache file.
    pub fn parse(file: &[u8]) -> Result<LdCache, LdCacheError> {
        let new = if file.starts_with(OLD_MAGIC) {
            let nlibs = u32_at(file, OLD_MAGIC.len() + 1)
                .ok_or(LdCacheError::Truncated("the old header"))? as usize;
            let old_len = nlibs
                .checked_mul(OLD_ENTRY)
                .and_then(|n| n.checked_add(OLD_HEADER))
                .ok_or(LdCacheError::Truncated("the old table"))?;
            let start = old_len
                .checked_next_multiple_of(8)
                .ok_or(LdCacheError::Truncated("the old table"))?;
            let new = file.get(start..).ok_or(LdCacheError::OldOnly)?;
            if !new.starts_with(NEW_MAGIC) {
                return Err(LdCacheError::OldOnly);
            }
            new
        } else if file.starts_with(NEW_MAGIC) {
            file
        } else {
            return Err(LdCacheError::BadMagic);
        };
        if new.len() < NEW_HEADER {
            return Err(LdCacheError::Truncated("the header"));
        }
        if new[28] == ENDIAN_BIG {
            return Err(LdCacheError::BigEndian);
        }
        let nlibs = u32_at(new, 20).ok_or(LdCacheError::Truncated("the header"))? as usize;
        let table_end = nlibs
            .checked_mul(NEW_ENTRY)
            .and_then(|n| n.checked_add(NEW_HEADER))
            .filter(|&end| end <= new.len())
            .ok_or(LdCacheError::Truncated("the table of entries"))?;
        let mut entries = Vec::new();
        for (index, entry) in new[NEW_HEADER..table_end]
            .chunks_exact(NEW_ENTRY)
            .enumerate()
        {
            let field = |at| u32_at(entry, at).unwrap_or_default();
            let flags = field(0) as i32;
            let hwcap = u64_at(entry, 16).unwrap_or_default();
            let string = |offset, what| {
                string_at(new, offset).ok_or(LdCacheError::BadString { index, what })
            };
            let soname = string(field(4), "soname")?;
            let path = string(field(8), "path")?;
            let ours = flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6
                && flags & FLAG_ARCH_MASK == FLAG_X8664_LIB64
                && hwcap & HWCAP_EXTENSION == 0;
            if ours {
                entries.push(CacheEntry {
                    soname: soname.to_vec(),
                    path: path.to_vec(),
                });
            }
        }
        Ok(LdCache { entries })
    }

    /// The path of the first x86-64 entry for `soname`, as ld.so's cache lookup answers.
    pub fn lookup(&self, soname: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| e.soname == soname)
            .map(|e| e.path.as_slice())
    }

    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A new-format cache holding `entries` (flags, soname, path, hwcap).
    pub(crate) fn build(entries: &[(i32, &str, &str, u64)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut table = Vec::new();
        let base = NEW_HEADER + NEW_ENTRY * entries.len();
        for &(flags, soname, path, hwcap) in entries {
            let key = base + strings.len();
            strings.extend_from_slice(soname.as_bytes());
            strings.push(0);
            let value = base + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(key as u32).to_le_bytes());
            table.extend_from_slice(&(value as u32).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&hwcap.to_le_bytes());
        }
        let mut file = NEW_MAGIC.to_vec();
        file.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        file.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        file.extend_from_slice(&[2, 0, 0, 0]);
        file.extend_from_slice(&[0; 16]);
        assert_eq!(file.len(), NEW_HEADER);
        file.extend(table);
        file.extend(strings);
        file
    }

    const LIBC6_X86_64: i32 = 0x0303;

    #[test]
    fn lookups_take_the_first_x86_64_entry() {
        let file = build(&[
            (0x0003, "libz.so.1", "/lib32/libz.so.1", 0),
            (
                LIBC6_X86_64,
                "libz.so.1",
                "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1",
                HWCAP_EXTENSION | 2,
            ),
            (
                LIBC6_X86_64,
                "libz.so.1",
                "/lib/x86_64-linux-gnu/libz.so.1",
                0,
            ),
            (LIBC6_X86_64, "libz.so.1", "/usr/local/lib/libz.so.1", 0),
            (
                LIBC6_X86_64,
                "libc.so.6",
                "/lib/x86_64-linux-gnu/libc.so.6",
                0,
            ),
        ]);
        let cache = LdCache::parse(&file).unwrap();
        assert_eq!(
            cache.lookup(b"libz.so.1"),
            Some(&b"/lib/x86_64-linux-gnu/libz.so.1"[..])
        );
        assert_eq!(
            cache.lookup(b"libc.so.6"),
            Some(&b"/lib/x86_64-linux-gnu/libc.so.6"[..])
        );
        assert_eq!(cache.lookup(b"libm.so.6"), None);
        assert_eq!(cache.entries().len(), 3);
    }

    #[test]
    fn an_old_header_in_front_is_skipped() {
        let new = build(&[(LIBC6_X86_64, "liba.so", "/lib/liba.so", 0)]);
        // One old entry: 16 + 12 = 28 bytes, the new table at 32.
        let mut file = OLD_MAGIC.to_vec();
        file.push(0);
        file.extend_from_slice(&1u32.to_le_bytes());
        file.extend_from_slice(&[0; 12]);
        file.resize(32, 0);
        file.extend_from_slice(&new);
        let cache = LdCache::parse(&file).unwrap();
        assert_eq!(cache.lookup(b"liba.so"), Some(&b"/lib/liba.so"[..]));
        assert_eq!(
            LdCache::parse(&file[..30]),
            Err(LdCacheError::OldOnly),
            "old table only"
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        assert_eq!(LdCache::parse(b""), Err(LdCacheError::BadMagic));
        assert_eq!(LdCache::parse(b"ELF"), Err(LdCacheError::BadMagic));
        let file = build(&[(LIBC6_X86_64, "liba.so", "/lib/liba.so", 0)]);
        for cut in 0..file.len() {
            // Every prefix is an error or, once the strings are whole, the same answer.
            if let Ok(cache) = LdCache::parse(&file[..cut]) {
                assert!(cache.lookup(b"liba.so").is_some());
            }
        }
        assert!(matches!(
            LdCache::parse(&file[..NEW_HEADER + 10]),
            Err(LdCacheError::Truncated(_))
        ));
        let mut bad = file.clone();
        bad[NEW_HEADER + 4..NEW_HEADER + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            LdCache::parse(&bad),
            Err(LdCacheError::BadString {
                index: 0,
                what: "soname"
            })
        );
        let mut huge = file.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LdCache::parse(&huge).is_err());
        let mut big_endian = file;
        big_endian[28] = ENDIAN_BIG;
        assert_eq!(LdCache::parse(&big_endian), Err(LdCacheError::BigEndian));
    }

    #[test]
    fn the_host_cache_parses() {
        let Ok(file) = std::fs::read("/etc/ld.so.cache") else {
            return; // A host without glibc's cache has nothing to check here.
        };
        let cache = LdCache::parse(&file).unwrap();
        let libc = cache
            .lookup(b"libc.so.6")
            .expect("libc.so.6 in the host cache");
        assert!(libc.starts_with(b"/") && libc.ends_with(b"libc.so.6"));
    }
}
