//! The queue and watch rules of [`Table`], without a machine.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::notify::mask::*;
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::types::EpochClock;
use coracle_vfs::{Errno, Inode, WaitQueue};

use super::table::*;

fn table_with_instance(max_events: usize) -> (Table, u64) {
    let mut t = Table::new();
    let id = t
        .create(
            0,
            MAX_USER_INSTANCES,
            max_events,
            Arc::new(WaitQueue::new()),
        )
        .unwrap();
    (t, id)
}

fn files(n: usize) -> Vec<Arc<dyn Inode>> {
    let root = new_tmpfs(Arc::new(EpochClock), TmpfsOptions::default());
    (0..n)
        .map(|i| {
            let name = alloc::format!("f{i}");
            root.create(name.as_bytes(), coracle_vfs::NewNode::Regular, 0o644, 0, 0)
                .unwrap()
        })
        .collect()
}

fn key(inode: &Arc<dyn Inode>) -> (u64, u64) {
    let st = inode.stat();
    (st.dev, st.ino)
}

/// Decodes a read into (wd, mask, cookie, name) tuples.
fn decode(bytes: &[u8]) -> Vec<(i32, u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= EVENT_HEADER {
        let word = |i: usize| u32::from_ne_bytes(rest[i..i + 4].try_into().unwrap());
        let len = word(12) as usize;
        let name = &rest[EVENT_HEADER..EVENT_HEADER + len];
        let name = name.split(|&b| b == 0).next().unwrap().to_vec();
        out.push((word(0) as i32, word(4), word(8), name));
        rest = &rest[EVENT_HEADER + len..];
    }
    out
}

fn deliver(t: &mut Table, k: (u64, u64), mask: u32, name: &[u8]) {
    let mut after = After::default();
    t.event(k, mask, 0, name, false, &mut after);
    after.finish();
}

#[test]
fn names_are_padded_to_the_header_size() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    let wd = t.add_watch(id, f[0].clone(), IN_CREATE, 100).unwrap();
    deliver(&mut t, key(&f[0]), IN_CREATE, b"abc");
    deliver(&mut t, key(&f[0]), IN_CREATE, b"0123456789abcdef");
    assert_eq!(t.queued_bytes(id), Some(16 + 16 + 16 + 32));
    let bytes = t.read(id, 4096).unwrap();
    assert_eq!(bytes.len(), 80);
    assert_eq!(&bytes[16..32], b"abc\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let ev = decode(&bytes);
    assert_eq!(ev[0], (wd, IN_CREATE, 0, b"abc".to_vec()));
    assert_eq!(ev[1].3, b"0123456789abcdef");
}

#[test]
fn a_buffer_too_small_for_the_first_event_is_einval() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    t.add_watch(id, f[0].clone(), IN_ALL_EVENTS, 100).unwrap();
    assert_eq!(t.read(id, 64), Err(Errno::EAGAIN));
    deliver(&mut t, key(&f[0]), IN_CREATE, b"name");
    deliver(&mut t, key(&f[0]), IN_OPEN, b"");
    assert_eq!(t.read(id, 31), Err(Errno::EINVAL));
    // Only whole events: the first fits, the second waits.
    assert_eq!(t.read(id, 40).unwrap().len(), 32);
    assert_eq!(t.read(id, 16).unwrap().len(), 16);
}

#[test]
fn identical_consecutive_events_merge() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    t.add_watch(id, f[0].clone(), IN_ALL_EVENTS, 100).unwrap();
    let k = key(&f[0]);
    for mask in [IN_MODIFY, IN_MODIFY, IN_ACCESS, IN_MODIFY, IN_MODIFY] {
        deliver(&mut t, k, mask, b"");
    }
    let masks: Vec<u32> = decode(&t.read(id, 4096).unwrap())
        .iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(masks, [IN_MODIFY, IN_ACCESS, IN_MODIFY]);
}

#[test]
fn a_full_queue_ends_with_one_overflow_event() {
    let (mut t, id) = table_with_instance(3);
    let f = files(1);
    t.add_watch(id, f[0].clone(), IN_ALL_EVENTS, 100).unwrap();
    let k = key(&f[0]);
    for i in 0..10 {
        deliver(
            &mut t,
            k,
            if i % 2 == 0 { IN_ACCESS } else { IN_MODIFY },
            b"",
        );
    }
    let ev = decode(&t.read(id, 4096).unwrap());
    assert_eq!(ev.len(), 4);
    assert_eq!((ev[3].0, ev[3].1), (-1, IN_Q_OVERFLOW));
    // Once read, the queue takes events again.
    deliver(&mut t, k, IN_OPEN, b"");
    assert_eq!(decode(&t.read(id, 4096).unwrap()).len(), 1);
}

#[test]
fn watch_descriptors_are_per_inode_and_not_reused() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(2);
    let a = t.add_watch(id, f[0].clone(), IN_OPEN, 100).unwrap();
    assert_eq!(a, 1);
    assert_eq!(t.add_watch(id, f[0].clone(), IN_CLOSE_WRITE, 100), Ok(1));
    assert_eq!(
        t.add_watch(id, f[0].clone(), IN_OPEN | IN_MASK_CREATE, 100),
        Err(Errno::EEXIST)
    );
    let mut after = After::default();
    t.rm_watch(id, 1, &mut after).unwrap();
    assert_eq!(t.rm_watch(id, 1, &mut after), Err(Errno::EINVAL));
    assert_eq!(t.add_watch(id, f[0].clone(), IN_OPEN, 100), Ok(2));
    assert_eq!(t.add_watch(id, f[1].clone(), IN_OPEN, 100), Ok(3));
    let ev = decode(&t.read(id, 4096).unwrap());
    assert_eq!((ev[0].0, ev[0].1), (1, IN_IGNORED));
}

#[test]
fn replacing_and_adding_masks() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    let k = key(&f[0]);
    t.add_watch(id, f[0].clone(), IN_OPEN, 100).unwrap();
    t.add_watch(id, f[0].clone(), IN_ACCESS, 100).unwrap();
    deliver(&mut t, k, IN_OPEN, b"");
    assert_eq!(t.read(id, 4096), Err(Errno::EAGAIN));
    t.add_watch(id, f[0].clone(), IN_OPEN | IN_MASK_ADD, 100)
        .unwrap();
    deliver(&mut t, k, IN_OPEN, b"");
    deliver(&mut t, k, IN_ACCESS, b"");
    assert_eq!(decode(&t.read(id, 4096).unwrap()).len(), 2);
}

#[test]
fn oneshot_and_delete_self_end_the_watch_with_ignored() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(2);
    let one = t
        .add_watch(id, f[0].clone(), IN_OPEN | IN_ONESHOT, 100)
        .unwrap();
    let del = t.add_watch(id, f[1].clone(), IN_MODIFY, 100).unwrap();
    deliver(&mut t, key(&f[0]), IN_OPEN, b"");
    deliver(&mut t, key(&f[0]), IN_OPEN, b"");
    // Not asked for, but the watch still ends.
    deliver(&mut t, key(&f[1]), IN_DELETE_SELF, b"");
    let ev: Vec<(i32, u32)> = decode(&t.read(id, 4096).unwrap())
        .iter()
        .map(|e| (e.0, e.1))
        .collect();
    assert_eq!(ev, [(one, IN_OPEN), (one, IN_IGNORED), (del, IN_IGNORED)]);
    assert_eq!(t.watch_count(), 0);
}

#[test]
fn excl_unlink_skips_events_of_unlinked_children() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    t.add_watch(id, f[0].clone(), IN_ACCESS | IN_EXCL_UNLINK, 100)
        .unwrap();
    let mut after = After::default();
    t.event(key(&f[0]), IN_ACCESS, 0, b"x", true, &mut after);
    assert_eq!(t.read(id, 4096), Err(Errno::EAGAIN));
}

#[test]
fn limits_of_instances_and_watches() {
    let mut t = Table::new();
    let q = Arc::new(WaitQueue::new());
    let a = t.create(7, 2, 10, q.clone()).unwrap();
    t.create(7, 2, 10, q.clone()).unwrap();
    assert_eq!(t.create(7, 2, 10, q.clone()), Err(Errno::EMFILE));
    // Another user has their own count.
    t.create(8, 2, 10, q.clone()).unwrap();
    let f = files(3);
    t.add_watch(a, f[0].clone(), IN_OPEN, 2).unwrap();
    t.add_watch(a, f[1].clone(), IN_OPEN, 2).unwrap();
    assert_eq!(t.add_watch(a, f[2].clone(), IN_OPEN, 2), Err(Errno::ENOSPC));
    // Closing an instance gives its watches and its slot back.
    assert_eq!(t.destroy(a).len(), 2);
    assert_eq!(t.watch_count(), 0);
    t.create(7, 2, 10, q).unwrap();
}

#[test]
fn a_faulted_read_loses_its_first_event_only() {
    let (mut t, id) = table_with_instance(MAX_QUEUED_EVENTS);
    let f = files(1);
    t.add_watch(id, f[0].clone(), IN_ALL_EVENTS, 100).unwrap();
    deliver(&mut t, key(&f[0]), IN_CREATE, b"first");
    deliver(&mut t, key(&f[0]), IN_OPEN, b"");
    deliver(&mut t, key(&f[0]), IN_CREATE, b"third");
    let bytes = t.read(id, 4096).unwrap();
    t.put_back(id, &bytes);
    assert_eq!(t.queued_bytes(id), Some(16 + 32));
    let ev = decode(&t.read(id, 4096).unwrap());
    assert_eq!((ev[0].1, ev[1].3.as_slice()), (IN_OPEN, &b"third"[..]));
}
