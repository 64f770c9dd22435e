//! /dev: the nodes Docker gives a container and the memory devices behind them.

use alloc::boxed::Box;

use super::*;
use crate::dev::*;
use crate::file::{FileOps, HostDevice, SEEK_SET};
use crate::types::oflags::*;
use crate::Device;

/// A fixture with /dev populated (`tty` says whether there is a terminal).
fn with_dev(tty: bool) -> Fx {
    let fx = Fx::new();
    let dev = fx
        .root
        .create(b"dev", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    populate_dev(&fx.vfs, &dev, tty).unwrap();
    fx
}

#[test]
fn populate_dev_makes_dockers_nodes() {
    let fx = with_dev(false);
    let chr = |name: &str, (maj, min): (u32, u32), perm: u32| {
        let st = fx.get(&std::format!("/dev/{name}")).unwrap().stat();
        assert_eq!(st.mode, S_IFCHR | perm, "{name}");
        assert_eq!(st.rdev, makedev(maj, min), "{name}");
        assert_eq!((major(st.rdev), minor(st.rdev)), (maj, min), "{name}");
        assert_eq!((st.uid, st.gid), (0, 0));
    };
    chr("null", (1, 3), 0o666);
    chr("zero", (1, 5), 0o666);
    chr("full", (1, 7), 0o666);
    chr("random", (1, 8), 0o666);
    chr("urandom", (1, 9), 0o666);
    chr("tty", (5, 0), 0o666);
    chr("console", (5, 1), 0o620);
    let dev = fx.get("/dev").unwrap();
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        let l = dev.lookup(&fx.su, name.as_bytes()).unwrap();
        assert_eq!(l.stat().file_type(), FileType::Symlink, "{name}");
        assert_eq!(l.readlink(&fx.su).unwrap(), target.as_bytes());
    }
    for (name, perm) in [("shm", 0o1777), ("pts", 0o755), ("mqueue", 0o755)] {
        let st = fx.get(&std::format!("/dev/{name}")).unwrap().stat();
        assert_eq!(st.mode, S_IFDIR | perm, "{name}");
    }
    assert_eq!(names(&dev, &fx.su).len(), 2 + 7 + 5 + 3);
    // Populating twice finds the names taken.
    assert_eq!(err(populate_dev(&fx.vfs, &dev, false)), Errno::EEXIST);
}

#[test]
fn null_reads_eof_and_swallows_writes() {
    let fx = with_dev(false);
    let null = fx.open("/dev/null", O_RDWR).unwrap();
    let mut buf = [7; 16];
    assert_eq!(null.read(&mut buf), Ok(0));
    assert_eq!(null.write(&[1; 100_000]), Ok(100_000));
    assert_eq!(null.pwrite(5, b"abc"), Ok(3));
    assert_eq!(null.pread(5, &mut buf), Ok(0));
    let app = fx.open("/dev/null", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(app.write(b"abc"), Ok(3));
    assert_eq!(buf, [7; 16]);
}

#[test]
fn zero_reads_zeros() {
    let fx = with_dev(false);
    let zero = fx.open("/dev/zero", O_RDWR).unwrap();
    let mut buf = [7u8; 10_000];
    assert_eq!(zero.read(&mut buf), Ok(10_000));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(zero.write(b"gone"), Ok(4));
    // Like null and full, zero always seeks to 0 (zero_lseek).
    assert_eq!(zero.seek(123, SEEK_SET), Ok(0));
}

#[test]
fn full_reads_zeros_and_refuses_writes() {
    let fx = with_dev(false);
    let full = fx.open("/dev/full", O_RDWR).unwrap();
    let mut buf = [7u8; 64];
    assert_eq!(full.read(&mut buf), Ok(64));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(err(full.write(b"x")), Errno::ENOSPC);
    assert_eq!(err(full.pwrite(0, b"x")), Errno::ENOSPC);
    let app = fx.open("/dev/full", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(err(app.write(b"x")), Errno::ENOSPC);
}

#[test]
fn tty_without_a_terminal_is_enxio() {
    let fx = with_dev(false);
    assert_eq!(err(fx.open("/dev/tty", O_RDWR)), Errno::ENXIO);
    // The console is always served by the kernel.
    let console = fx.open("/dev/console", O_RDWR).unwrap();
    assert_eq!(console.ops().host_device(), Some(HostDevice::Tty));
    assert!(!console.ops().seekable());
}

#[test]
fn tty_with_a_terminal_is_the_kernels() {
    let fx = with_dev(true);
    let tty = fx.open("/dev/tty", O_RDWR).unwrap();
    assert_eq!(tty.ops().host_device(), Some(HostDevice::Tty));
    for name in ["random", "urandom"] {
        let r = fx.open(&std::format!("/dev/{name}"), O_RDONLY).unwrap();
        assert_eq!(r.ops().host_device(), Some(HostDevice::Random));
        assert!(r.ops().seekable(), "lseek on random devices is accepted");
    }
    let null = fx.open("/dev/null", O_RDONLY).unwrap();
    assert_eq!(null.ops().host_device(), None);
}

#[test]
fn an_unregistered_char_device_is_enxio() {
    let fx = with_dev(false);
    fx.root
        .create(b"odd", NewNode::CharDevice(makedev(42, 7)), 0o666, 0, 0)
        .unwrap();
    assert_eq!(err(fx.open("/odd", O_RDONLY)), Errno::ENXIO);
    // Registering a driver makes it openable.
    fx.vfs
        .register_device(makedev(42, 7), Arc::new(MemDevice::Zero));
    assert!(fx.open("/odd", O_RDONLY).is_ok());
    // A node with the same numbers elsewhere reaches the same driver.
    fx.root
        .create(b"odd2", NewNode::CharDevice(makedev(42, 7)), 0o600, 0, 0)
        .unwrap();
    let mut buf = [1; 3];
    fx.open("/odd2", O_RDONLY).unwrap().read(&mut buf).unwrap();
    assert_eq!(buf, [0; 3]);
}

#[test]
fn device_drivers_open_directly() {
    let ops: Box<dyn FileOps> = MemDevice::Null.open(O_RDONLY).unwrap();
    assert_eq!(ops.read(0, &mut [0; 4]), Ok(0));
    assert_eq!(err(NoDevice.open(O_RDONLY)), Errno::ENXIO);
    let host = HostOps(HostDevice::Stdout).open(O_WRONLY).unwrap();
    assert_eq!(host.host_device(), Some(HostDevice::Stdout));
    assert_eq!(err(host.read(0, &mut [0; 1])), Errno::EINVAL);
}
