//! /proc/config.gz: what Coracle supports, in Linux's `CONFIG_` names, gzip-compressed as
//! Linux's `kernel/configs.c` serves it (LTP and other feature probes read it).
//!
//! [`CONFIG`] is the one table: an option is `=y` (or a value) only when the calls and files
//! behind it work here, and listed as "is not set" when programs probe for it and Coracle does
//! not have it. Change an entry in the same commit as the feature. The file is stored
//! (deflate's uncompressed blocks): valid gzip that needs no compressor in the kernel.

use alloc::vec::Vec;

/// One option: `Some(value)` is set (`"y"`, a number, a quoted string), `None` not set.
type Opt = (&'static str, Option<&'static str>);

/// The options, in the order the file lists them.
pub(super) const CONFIG: &[Opt] = &[
    ("CONFIG_64BIT", Some("y")),
    ("CONFIG_X86_64", Some("y")),
    ("CONFIG_X86", Some("y")),
    ("CONFIG_MMU", Some("y")),
    ("CONFIG_SMP", Some("y")),
    ("CONFIG_LOCALVERSION", Some("\"-coracle\"")),
    ("CONFIG_HZ_100", Some("y")),
    ("CONFIG_HZ", Some("100")),
    ("CONFIG_HIGH_RES_TIMERS", Some("y")),
    ("CONFIG_POSIX_TIMERS", Some("y")),
    ("CONFIG_FUTEX", Some("y")),
    ("CONFIG_EPOLL", Some("y")),
    ("CONFIG_SIGNALFD", Some("y")),
    ("CONFIG_TIMERFD", Some("y")),
    ("CONFIG_EVENTFD", Some("y")),
    ("CONFIG_SHMEM", Some("y")),
    ("CONFIG_MEMFD_CREATE", Some("y")),
    ("CONFIG_ADVISE_SYSCALLS", Some("y")),
    ("CONFIG_FILE_LOCKING", Some("y")),
    ("CONFIG_BINFMT_ELF", Some("y")),
    ("CONFIG_BINFMT_SCRIPT", Some("y")),
    ("CONFIG_PROC_FS", Some("y")),
    ("CONFIG_IKCONFIG", Some("y")),
    ("CONFIG_IKCONFIG_PROC", Some("y")),
    ("CONFIG_SYSFS", Some("y")),
    ("CONFIG_TMPFS", Some("y")),
    ("CONFIG_TMPFS_XATTR", Some("y")),
    ("CONFIG_TMPFS_POSIX_ACL", None),
    ("CONFIG_DEVTMPFS", None),
    ("CONFIG_NET", Some("y")),
    ("CONFIG_INET", Some("y")),
    ("CONFIG_UNIX", Some("y")),
    ("CONFIG_PCI", Some("y")),
    ("CONFIG_ACPI", Some("y")),
    ("CONFIG_VIRTIO", Some("y")),
    ("CONFIG_VIRTIO_PCI", Some("y")),
    ("CONFIG_VIRTIO_MMIO", Some("y")),
    ("CONFIG_VIRTIO_NET", Some("y")),
    ("CONFIG_MULTIUSER", None),
    ("CONFIG_SYSVIPC", Some("y")),
    ("CONFIG_POSIX_MQUEUE", None),
    ("CONFIG_KEYS", None),
    ("CONFIG_INOTIFY_USER", None),
    ("CONFIG_FANOTIFY", None),
    ("CONFIG_FHANDLE", None),
    ("CONFIG_AIO", None),
    ("CONFIG_IO_URING", None),
    ("CONFIG_NAMESPACES", None),
    ("CONFIG_USER_NS", None),
    ("CONFIG_PID_NS", None),
    ("CONFIG_NET_NS", None),
    ("CONFIG_UTS_NS", None),
    ("CONFIG_IPC_NS", None),
    ("CONFIG_CGROUPS", None),
    ("CONFIG_SECCOMP", None),
    ("CONFIG_BPF_SYSCALL", None),
    ("CONFIG_PERF_EVENTS", None),
    ("CONFIG_CHECKPOINT_RESTORE", None),
    ("CONFIG_CROSS_MEMORY_ATTACH", None),
    ("CONFIG_MEMBARRIER", None),
    ("CONFIG_RSEQ", None),
    ("CONFIG_SWAP", None),
    ("CONFIG_QUOTA", None),
    ("CONFIG_TRANSPARENT_HUGEPAGE", None),
    ("CONFIG_HUGETLBFS", None),
    ("CONFIG_MODULES", None),
    ("CONFIG_BLOCK", None),
    ("CONFIG_IPV6", None),
];

/// The text of the .config.
fn text() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"#\n# Coracle: the Linux options it implements\n#\n");
    for (name, value) in CONFIG {
        match value {
            Some(v) => {
                t.extend_from_slice(name.as_bytes());
                t.push(b'=');
                t.extend_from_slice(v.as_bytes());
            }
            None => {
                t.extend_from_slice(b"# ");
                t.extend_from_slice(name.as_bytes());
                t.extend_from_slice(b" is not set");
            }
        }
        t.push(b'\n');
    }
    t
}

/// CRC-32 (IEEE, reflected), bit by bit: the file is read rarely and is small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `data` as a gzip member of stored deflate blocks (RFC 1951 3.2.4, RFC 1952).
pub(super) fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// /proc/config.gz.
pub(super) fn config_gz(_c: &super::node::SysCtx<'_>) -> Vec<u8> {
    gzip_stored(&text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn stored_gzip_wraps_the_text() {
        let t = text();
        let gz = gzip_stored(&t);
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(gz[10], 1, "one final stored block");
        assert_eq!(&gz[15..15 + t.len()], &t[..]);
        assert!(t.windows(21).any(|w| w == b"CONFIG_TMPFS_XATTR=y\n"));
    }
}
