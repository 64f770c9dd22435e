//! Host tests of a POSIX message queue's logic: order, limits, notification, the status line.

use alloc::vec;
use alloc::vec::Vec;

use super::queue::{How, Notify, Queue};
use crate::Errno;

fn alive(_: u32) -> bool {
    true
}

#[test]
fn highest_priority_first_and_fifo_within_one() {
    let mut q = Queue::new(10, 16);
    for (prio, text) in [(1, "a1"), (5, "b5"), (1, "c1"), (5, "d5"), (0, "e0")] {
        q.send(prio, text.as_bytes().to_vec(), alive).unwrap();
    }
    let order: Vec<(u32, Vec<u8>)> = core::iter::from_fn(|| q.receive()).collect();
    let want: Vec<(u32, Vec<u8>)> = [(5, "b5"), (5, "d5"), (1, "a1"), (1, "c1"), (0, "e0")]
        .into_iter()
        .map(|(p, t)| (p, t.as_bytes().to_vec()))
        .collect();
    assert_eq!(order, want);
    assert_eq!(q.qsize, 0);
}

#[test]
fn full_queue_and_long_message_are_refused() {
    let mut q = Queue::new(2, 4);
    assert_eq!(q.send(0, vec![0; 5], alive), Err(Errno::EMSGSIZE));
    q.send(0, vec![1; 4], alive).unwrap();
    q.send(0, vec![], alive).unwrap();
    assert!(q.is_full());
    assert_eq!(q.send(0, vec![2], alive), Err(Errno::EAGAIN));
    assert_eq!(q.qsize, 4);
    assert_eq!(q.len(), 2);
}

#[test]
fn notification_fires_once_on_empty_queue_without_receivers() {
    let mut q = Queue::new(10, 8);
    let how = How::Signal {
        signo: 10,
        value: 7,
    };
    q.set_notify(42, Some(how)).unwrap();
    assert_eq!(q.set_notify(43, Some(How::Nothing)), Err(Errno::EBUSY));
    assert_eq!(
        q.send(0, vec![1], alive).unwrap(),
        Some(Notify { pid: 42, how })
    );
    // Used up: the next registration is free again, and a second message fires nothing.
    q.set_notify(43, Some(How::Nothing)).unwrap();
    assert_eq!(q.send(0, vec![2], alive).unwrap(), None);
    // Only the owner removes its registration; anyone else's removal is quietly nothing.
    q.set_notify(42, None).unwrap();
    assert!(q.notify.is_some());
    q.set_notify(43, None).unwrap();
    assert!(q.notify.is_none());
}

#[test]
fn waiting_receiver_takes_the_message_instead_of_the_notification() {
    let mut q = Queue::new(10, 8);
    q.set_notify(1, Some(How::Nothing)).unwrap();
    q.receivers.insert(77);
    assert_eq!(q.send(0, vec![1], alive).unwrap(), None);
    assert!(q.notify.is_some());
    q.receive().unwrap();
    // A receiver that no longer exists does not count.
    assert!(q.send(0, vec![1], |t| t != 77).unwrap().is_some());
}

#[test]
fn status_line_is_linux_s() {
    let mut q = Queue::new(10, 8);
    q.send(3, b"abc".to_vec(), alive).unwrap();
    assert_eq!(
        q.status_line(),
        "QSIZE:3          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"
    );
    q.set_notify(
        19016,
        Some(How::Signal {
            signo: 10,
            value: 0,
        }),
    )
    .unwrap();
    assert_eq!(
        q.status_line(),
        "QSIZE:3          NOTIFY:0     SIGNO:10    NOTIFY_PID:19016 \n"
    );
    q.set_notify(19016, None).unwrap();
    q.set_notify(5, Some(How::Nothing)).unwrap();
    assert!(q
        .status_line()
        .starts_with("QSIZE:3          NOTIFY:1     SIGNO:0 "));
}

#[test]
fn footprint_matches_linux_s_rlimit_charge() {
    // Ten 8192-byte messages: 81920 bytes and 96 per message; nine such queues fit in the
    // default RLIMIT_MSGQUEUE of 819200, a tenth does not.
    let q = Queue::new(10, 8192);
    assert_eq!(q.footprint(), 82880);
    assert_eq!(819_200 / q.footprint(), 9);
}
