//! Fuzzes the initrd's cpio `newc` reader and unpacker: any bytes give entries or an error,
//! never a panic, and every entry's data lies inside the archive.
#![no_main]

use coracle_vfs::cpio::Reader;
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::types::{Caller, Clock, Timespec};
use coracle_vfs::unpack::unpack;
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Epoch;

impl Clock for Epoch {
    fn now(&self) -> Timespec {
        Timespec { sec: 0, nsec: 0 }
    }
}

fuzz_target!(|data: &[u8]| {
    let range = data.as_ptr_range();
    for entry in Reader::new(data) {
        let Ok(e) = entry else { break };
        let inside = |s: &[u8]| s.is_empty() || range.contains(&s.as_ptr());
        assert!(inside(e.name) && inside(e.data));
    }
    let root = new_tmpfs(std::sync::Arc::new(Epoch), TmpfsOptions::default());
    let su = Caller {
        pid: 1,
        tid: 1,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: coracle_vfs::cap::ALL,
        umask: 0o022,
        root: root.clone(),
    };
    let _ = unpack(&root, &su, data, |_| true);
});
