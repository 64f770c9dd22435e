//! Any bytes as a 9P server's replies: the input is cut into replies (a length byte, then
//! that many bytes), answered in turn to whatever the client sends; mounting, walking,
//! reading, writing and listing must give errors, never a panic or a hang.
#![no_main]

use std::sync::{Arc, Mutex};

use coracle_vfs::p9::{wire, Channel, P9Fs};
use coracle_vfs::{Caller, Errno, Inode};
use libfuzzer_sys::fuzz_target;

struct Replies(Mutex<Vec<Vec<u8>>>);

impl Channel for Replies {
    fn rpc(&self, _request: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
        let next = self.0.lock().unwrap().pop().ok_or(Errno::EIO)?;
        let n = next.len().min(reply.len());
        reply[..n].copy_from_slice(&next[..n]);
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    // The wire decoders on their own.
    for kind in [24u8, 8, 40, 116, 110] {
        if let Ok(mut r) = wire::reply(kind, 1, data) {
            let _ = wire::attr(&mut r.clone());
            let _ = wire::fs_stat(&mut r.clone());
            if let Ok(d) = r.data() {
                wire::dir_entries(d).for_each(drop);
            }
        }
    }
    let mut replies = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        replies.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    replies.reverse();
    let Ok(root) = P9Fs::mount(Arc::new(Replies(Mutex::new(replies)))) else {
        return;
    };
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
    let _ = root.readdir(&cx, 2);
    if let Ok(f) = root.lookup(&cx, b"f") {
        let mut buf = [0; 64];
        let _ = f.read_at(0, &mut buf);
        let _ = f.write_at(0, b"x");
        let _ = f.sync(false);
        let _ = f.readlink(&cx);
    }
    let _ = root.create(b"n", coracle_vfs::NewNode::Regular, 0o644, 0, 0);
});
