//! The files the kernel serves itself: the console (a terminal when the VM runs with `-t`)
//! and /dev/random, read and written without the VFS.

use coracle_vfs::HostDevice;

use super::rw::UserBufs;
use super::{with_bounce, CHUNK, MAX_RW_COUNT};
use crate::{Current, Platform, Stream, SysResult};

pub(super) fn is_terminal(p: &Current, dev: HostDevice) -> bool {
    match dev {
        HostDevice::Tty => true,
        HostDevice::Stdin | HostDevice::Stdout | HostDevice::Stderr => p.info.tty,
        HostDevice::Random => false,
    }
}

pub(super) fn host_read(
    p: &mut Current,
    k: &mut dyn Platform,
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
                if p.stdin_eof {
                    return Ok(0);
                }
                let want = (count as usize).min(chunk.len());
                let n = k.read_stdin(&mut chunk[..want]);
                if n == 0 {
                    p.stdin_eof = true;
                    return Ok(0);
                }
                bufs.store(k, 0, &chunk[..n])?;
                Ok(n as u64)
            }
        }
    })
}

pub(super) fn host_write(
    p: &mut Current,
    k: &mut dyn Platform,
    dev: HostDevice,
    bufs: UserBufs<'_>,
) -> SysResult {
    let count = bufs.len().min(MAX_RW_COUNT);
    with_bounce(p, |_, chunk| {
        let mut done: u64 = 0;
        while done < count {
            let n = ((count - done) as usize).min(CHUNK);
            let got = match bufs.load(k, done, &mut chunk[..n]) {
                Ok(()) => n,
                Err((0, e)) if done == 0 => return Err(e),
                Err((got, _)) => got,
            };
            match dev {
                // Writing to /dev/random mixes entropy in; the bytes are checked like any write.
                HostDevice::Random => {}
                HostDevice::Stderr => k.write_stream(Stream::Stderr, &chunk[..got]),
                _ => k.write_stream(Stream::Stdout, &chunk[..got]),
            }
            done += got as u64;
            if got < n {
                break;
            }
        }
        Ok(done)
    })
}
