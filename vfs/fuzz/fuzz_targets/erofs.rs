//! Any bytes as an EROFS image: mounting, walking, reading, listing and reading extended
//! attributes must give errors, never a panic or a hang.
#![no_main]

use std::sync::Arc;

use coracle_vfs::block::{BlockDevice, FakeBlock};
use coracle_vfs::erofs::Erofs;
use coracle_vfs::{Caller, Inode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn BlockDevice> = FakeBlock::new(data.to_vec(), true);
    let Ok(fs) = Erofs::mount(dev) else { return };
    let Ok(root) = fs.root() else { return };
    let cx = Caller {
        pid: 1,
        tid: 1,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: coracle_vfs::cap::ALL,
        umask: 0o22,
        root: root.clone(),
    };
    let mut todo: Vec<(Arc<dyn Inode>, u32)> = vec![(root, 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = todo.pop() {
        let mut pos = 0;
        while let Ok(Some((entry, next))) = dir.readdir(&cx, pos) {
            seen += 1;
            if next <= pos || seen > 2_000 {
                return;
            }
            pos = next;
            if entry.name == b"." || entry.name == b".." {
                continue;
            }
            let Ok(node) = dir.lookup(&cx, &entry.name) else { continue };
            let _ = node.stat();
            let _ = node.readlink(&cx);
            let mut buf = [0u8; 9000];
            let _ = node.read_at(0, &mut buf);
            let _ = node.read_at(5000, &mut buf);
            if let Ok(names) = node.xattr(coracle_vfs::xattr::XattrOp::List) {
                for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()).take(64) {
                    let _ = node.xattr(coracle_vfs::xattr::XattrOp::Get(name));
                }
            }
            let _ = node.xattr(coracle_vfs::xattr::XattrOp::Get(b"security.capability"));
            if node.stat().is_dir() && depth < 8 {
                todo.push((node, depth + 1));
            }
        }
    }
});
