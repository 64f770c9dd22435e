//! Pipes and FIFOs: empty and full pipes, PIPE_BUF atomicity, capacity changes, poll bits,
//! the readiness generation, and opening FIFOs by path.

use alloc::boxed::Box;

use super::*;
use crate::file::events::*;
use crate::file::{FileOps, SEEK_SET};
use crate::pipe::{pipe_of, Pipe, DEFAULT_CAPACITY, MAX_CAPACITY, PIPE_BUF};
use crate::types::oflags::*;

/// A pipe(2): the read end and the write end as open file descriptions.
fn pipe() -> (Arc<Pipe>, Arc<OpenFile>, Arc<OpenFile>) {
    let (_, root) = tmpfs();
    let p = Pipe::new();
    let r = OpenFile::new(root.clone(), b"pipe:".to_vec(), O_RDONLY, p.open_reader());
    let w = OpenFile::new(root, b"pipe:".to_vec(), O_WRONLY, p.open_writer());
    (p, r, w)
}

#[test]
fn data_flows_in_order() {
    let (p, r, w) = pipe();
    assert_eq!(w.write(b"hello "), Ok(6));
    assert_eq!(w.write(b"world"), Ok(5));
    assert_eq!(r.ops().readable_bytes(), Some(11));
    let mut buf = [0; 8];
    assert_eq!(r.read(&mut buf), Ok(8));
    assert_eq!(&buf, b"hello wo");
    assert_eq!(r.read(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"rld");
    assert_eq!((p.readers(), p.writers()), (1, 1));
    assert!(Arc::ptr_eq(pipe_of(r.ops()).unwrap(), &p));
}

#[test]
fn empty_pipe_reads() {
    let (_, r, w) = pipe();
    let mut buf = [0; 4];
    assert_eq!(err(r.read(&mut buf)), Errno::EAGAIN);
    assert_eq!(r.read(&mut []), Ok(0));
    w.write(b"ab").unwrap();
    drop(w);
    // Data written before the last writer left is still read, then end of file.
    assert_eq!(r.read(&mut buf), Ok(2));
    assert_eq!(r.read(&mut buf), Ok(0));
}

#[test]
fn writing_with_no_reader_is_epipe() {
    let (p, r, w) = pipe();
    drop(r);
    assert_eq!(p.readers(), 0);
    assert_eq!(err(w.write(b"x")), Errno::EPIPE);
    assert_eq!(err(w.write(&[0; 100_000])), Errno::EPIPE);
    // A null write succeeds even so (pipe_write checks the length first).
    assert_eq!(w.write(b""), Ok(0));
}

#[test]
fn pipes_do_not_seek() {
    let (_, r, w) = pipe();
    let mut buf = [0; 1];
    assert!(!r.ops().seekable());
    assert_eq!(err(r.seek(0, SEEK_SET)), Errno::ESPIPE);
    assert_eq!(err(w.seek(0, SEEK_SET)), Errno::ESPIPE);
    assert_eq!(err(r.pread(0, &mut buf)), Errno::ESPIPE);
    assert_eq!(err(w.pwrite(0, b"x")), Errno::ESPIPE);
    // ... and the ends keep their access modes.
    assert_eq!(err(r.write(b"x")), Errno::EBADF);
    assert_eq!(err(w.read(&mut buf)), Errno::EBADF);
}

#[test]
fn small_writes_are_all_or_nothing() {
    let (_, r, w) = pipe();
    assert_eq!(
        w.write(&[1; DEFAULT_CAPACITY - 4095]),
        Ok(DEFAULT_CAPACITY - 4095)
    );
    // 4095 bytes free: a PIPE_BUF write does not fit and writes nothing.
    assert_eq!(err(w.write(&[2; PIPE_BUF])), Errno::EAGAIN);
    assert_eq!(r.ops().readable_bytes(), Some(DEFAULT_CAPACITY - 4095));
    // A larger write takes what fits.
    assert_eq!(w.write(&[3; PIPE_BUF + 1]), Ok(4095));
    assert_eq!(err(w.write(&[4; PIPE_BUF + 1])), Errno::EAGAIN);
    assert_eq!(err(w.write(b"x")), Errno::EAGAIN);
    let mut buf = std::vec![0; DEFAULT_CAPACITY];
    assert_eq!(r.read(&mut buf), Ok(DEFAULT_CAPACITY));
    assert!(buf[..DEFAULT_CAPACITY - 4095].iter().all(|&b| b == 1));
    assert!(buf[DEFAULT_CAPACITY - 4095..].iter().all(|&b| b == 3));
    // Exactly PIPE_BUF free: it fits.
    w.write(&[5; DEFAULT_CAPACITY - PIPE_BUF]).unwrap();
    assert_eq!(w.write(&[6; PIPE_BUF]), Ok(PIPE_BUF));
}

#[test]
fn capacity_changes() {
    let (p, r, w) = pipe();
    assert_eq!(p.capacity(), DEFAULT_CAPACITY);
    // Rounded up to a power-of-two number of pages, at least one.
    assert_eq!(p.set_capacity(0, false), Ok(4096));
    assert_eq!(p.set_capacity(1, false), Ok(4096));
    assert_eq!(p.set_capacity(4097, false), Ok(8192));
    assert_eq!(p.set_capacity(3 * 4096, false), Ok(16384));
    assert_eq!(p.capacity(), 16384);
    assert_eq!(p.set_capacity(MAX_CAPACITY, false), Ok(MAX_CAPACITY));
    // Above the maximum: only the privileged.
    assert_eq!(err(p.set_capacity(MAX_CAPACITY + 1, false)), Errno::EPERM);
    assert_eq!(p.set_capacity(MAX_CAPACITY + 1, true), Ok(2 * MAX_CAPACITY));
    // Shrinking from there is always allowed, and so is keeping the size.
    assert_eq!(
        p.set_capacity(MAX_CAPACITY + 1, false),
        Ok(2 * MAX_CAPACITY)
    );
    // Past 2 GiB is EINVAL for everyone, before the privilege check (pipe_set_size).
    assert_eq!(err(p.set_capacity((1 << 31) + 1, false)), Errno::EINVAL);
    assert_eq!(err(p.set_capacity((1 << 31) + 1, true)), Errno::EINVAL);
    // Data that would not fit: EBUSY, and nothing changes.
    p.set_capacity(16384, false).unwrap();
    w.write(&[0; 8193]).unwrap();
    assert_eq!(err(p.set_capacity(8192, false)), Errno::EBUSY);
    assert_eq!(p.capacity(), 16384);
    assert_eq!(p.set_capacity(12000, false), Ok(16384));
    let mut buf = [0; 2];
    r.read(&mut buf).unwrap();
    assert_eq!(p.set_capacity(8192, false), Ok(8192));
    // The new capacity bounds writes.
    assert_eq!(w.write(&[0; 5000]), Ok(1), "8191 queued, one byte of room");
}

#[test]
fn poll_bits() {
    let (p, r, w) = pipe();
    assert_eq!(r.ops().poll(), 0);
    assert_eq!(w.ops().poll(), POLLOUT | POLLWRNORM);
    w.write(b"x").unwrap();
    assert_eq!(r.ops().poll(), POLLIN | POLLRDNORM);
    // Full (less than PIPE_BUF free): not writable.
    w.write(&[0; DEFAULT_CAPACITY - PIPE_BUF]).unwrap();
    assert_eq!(w.ops().poll(), 0);
    let mut buf = std::vec![0; DEFAULT_CAPACITY];
    r.read(&mut buf).unwrap();
    assert_eq!(w.ops().poll(), POLLOUT | POLLWRNORM);
    // The last writer goes: readers see POLLHUP (with POLLIN while data remains).
    w.write(b"y").unwrap();
    let w2 = OpenFile::new(w.inode().clone(), Vec::new(), O_WRONLY, p.open_writer());
    drop(w);
    assert_eq!(r.ops().poll(), POLLIN | POLLRDNORM, "one writer is left");
    drop(w2);
    assert_eq!(r.ops().poll(), POLLIN | POLLRDNORM | POLLHUP);
    r.read(&mut buf).unwrap();
    assert_eq!(r.ops().poll(), POLLHUP);
    // No readers: writers see POLLERR.
    let (_, r, w) = pipe();
    drop(r);
    assert_eq!(w.ops().poll(), POLLOUT | POLLWRNORM | POLLERR);
}

#[test]
fn generation_moves_on_every_change() {
    let (p, r, w) = pipe();
    let mut last = p.generation();
    let mut moved = |what: &str| {
        let g = p.generation();
        assert!(g > last, "{what}");
        last = g;
    };
    w.write(b"x").unwrap();
    moved("write");
    r.read(&mut [0; 1]).unwrap();
    moved("read");
    p.set_capacity(8192, false).unwrap();
    moved("set_capacity");
    let extra = p.open_reader();
    moved("open");
    drop(extra);
    moved("close");
    drop(w);
    moved("last writer");
    // A failed read changes nothing.
    let g = p.generation();
    assert_eq!(r.read(&mut [0; 1]), Ok(0));
    assert_eq!(p.generation(), g);
}

#[test]
fn fifo_opens_through_the_vfs() {
    let fx = Fx::new();
    let fifo = fx.root.create(b"fifo", NewNode::Fifo, 0o644, 0, 0).unwrap();
    let pipe = fifo.fifo().unwrap();
    // A non-blocking writer with no reader: ENXIO (fifo(7)).
    assert_eq!(err(fx.open("/fifo", O_WRONLY | O_NONBLOCK)), Errno::ENXIO);
    assert_eq!(pipe.writers(), 0);
    // A non-blocking reader opens at once; reading with no writer ever is end of file.
    let r = fx.open("/fifo", O_RDONLY | O_NONBLOCK).unwrap();
    assert_eq!(r.read(&mut [0; 4]), Ok(0));
    assert_eq!(r.ops().poll(), 0, "no POLLHUP before any writer came");
    let w = fx.open("/fifo", O_WRONLY | O_NONBLOCK).unwrap();
    assert_eq!((pipe.readers(), pipe.writers()), (1, 1));
    w.write(b"through").unwrap();
    let mut buf = [0; 7];
    assert_eq!(r.read(&mut buf), Ok(7));
    assert_eq!(&buf, b"through");
    // Every open shares the one pipe.
    let rw = fx.open("/fifo", O_RDWR).unwrap();
    assert_eq!((pipe.readers(), pipe.writers()), (2, 2));
    rw.write(b"x").unwrap();
    assert_eq!(r.read(&mut buf), Ok(1));
    drop((w, rw));
    assert_eq!((pipe.readers(), pipe.writers()), (1, 0));
    assert_eq!(r.ops().poll(), POLLHUP);
    assert_eq!(fifo.stat().size, 0);
}

#[test]
fn fifo_ops_downcast_to_the_pipe() {
    let fx = Fx::new();
    let fifo = fx.root.create(b"f", NewNode::Fifo, 0o644, 0, 0).unwrap();
    let ops: Box<dyn FileOps> = fx.vfs.open_inode(&fx.su, &fifo, O_RDWR).unwrap();
    assert!(Arc::ptr_eq(pipe_of(&*ops).unwrap(), &fifo.fifo().unwrap()));
    assert!(pipe_of(&crate::dev::MemDevice::Null).is_none());
}
