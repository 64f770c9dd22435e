//! The files the kernel serves itself: the console (a terminal when the VM runs with `-t`)
//! and /dev/random, read and written without the VFS.
//!
//! The console's bytes travel to and from the host through the platform, which never blocks:
//! a read that finds no input and a write the host has no room for wait on the console's wait
//! queues (`crate::console::readers`, `writers`), woken by the kernel's console driver, as a
//! pipe's reader and writer would wait.

use coracle_abi::WaitQueue;
use coracle_vfs::{HostDevice, OpenFile, Wake};

use super::rw::UserBufs;
use super::{with_bounce, CHUNK, MAX_RW_COUNT};
use crate::{Current, Errno, Platform, Stream, SysResult};

pub(super) fn is_terminal(p: &Current, dev: HostDevice) -> bool {
    match dev {
        HostDevice::Tty => true,
        HostDevice::Stdin | HostDevice::Stdout | HostDevice::Stderr => p.info.tty,
        HostDevice::Random => false,
    }
}

/// The output stream a console device writes to.
pub(super) fn stream_of(dev: HostDevice) -> Stream {
    if dev == HostDevice::Stderr {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}

/// The step after the console could not move a byte, as `super::wait_for_file`: the first
/// time, register on `queue` and try again (`None`); the second time, wait. A signal ends
/// the wait with ERESTARTSYS.
pub(crate) fn wait_console(
    p: &mut Current,
    queue: &'static WaitQueue,
    registered: &mut bool,
) -> Option<Errno> {
    if p.resumed() == Some(Wake::Interrupted) {
        return Some(Errno::ERESTARTSYS);
    }
    if *registered {
        return Some(Errno::WAIT);
    }
    *registered = true;
    p.wait_on(queue, u64::MAX);
    None
}

pub(super) fn host_read(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    dev: HostDevice,
    bufs: UserBufs<'_>,
) -> SysResult {
    let count = bufs.len().min(MAX_RW_COUNT);
    if count == 0 {
        return Ok(0);
    }
    with_bounce(p, |p, chunk| {
        match dev {
            HostDevice::Random => {
                // Random devices fill the whole request, a chunk at a time.
                let mut done = 0u64;
                while done < count {
                    let n = ((count - done) as usize).min(chunk.len());
                    k.random(&mut chunk[..n]);
                    bufs.store(k, done, &chunk[..n])?;
                    done += n as u64;
                }
                Ok(done)
            }
            HostDevice::Stdin | HostDevice::Tty | HostDevice::Stdout | HostDevice::Stderr => {
                let want = (count as usize).min(chunk.len());
                let mut registered = false;
                loop {
                    if p.stdin_eof {
                        return Ok(0);
                    }
                    match k.read_stdin(&mut chunk[..want]) {
                        Some(0) => {
                            p.stdin_eof = true;
                            return Ok(0);
                        }
                        Some(n) => {
                            bufs.store(k, 0, &chunk[..n])?;
                            return Ok(n as u64);
                        }
                        None if file.nonblocking() => return Err(Errno::EAGAIN),
                        None => {
                            if let Some(e) =
                                wait_console(p, crate::console::readers(), &mut registered)
                            {
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Writes to the console or /dev/random. A blocking write goes on until the host took
/// everything, waiting as the host drains it (a write that waited part-way goes on after
/// what it wrote before, as a pipe's).
pub(super) fn host_write(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    dev: HostDevice,
    bufs: UserBufs<'_>,
) -> SysResult {
    let count = bufs.len().min(MAX_RW_COUNT);
    let mut registered = false;
    with_bounce(p, |p, chunk| {
        let mut done: u64 = p.progress.min(count);
        while done < count {
            let n = ((count - done) as usize).min(CHUNK);
            let got = match bufs.load(k, done, &mut chunk[..n]) {
                Ok(()) => n,
                Err((0, e)) if done == 0 => return Err(e),
                Err((0, _)) => break,
                Err((got, _)) => got,
            };
            // Writing to /dev/random mixes entropy in; the bytes are checked like any write.
            if dev != HostDevice::Random {
                let mut at = 0;
                while at < got {
                    let took = k.write_stream(stream_of(dev), &chunk[at..got]);
                    if took > 0 {
                        at += took;
                        continue;
                    }
                    let so_far = done + at as u64;
                    if file.nonblocking() {
                        return if so_far > 0 {
                            Ok(so_far)
                        } else {
                            Err(Errno::EAGAIN)
                        };
                    }
                    match wait_console(p, crate::console::writers(), &mut registered) {
                        None => {}
                        Some(Errno::WAIT) => {
                            p.progress = so_far;
                            return Err(Errno::WAIT);
                        }
                        Some(_) if so_far > 0 => return Ok(so_far),
                        Some(e) => return Err(e),
                    }
                }
            }
            done += got as u64;
            if got < n {
                break;
            }
        }
        Ok(done)
    })
}
