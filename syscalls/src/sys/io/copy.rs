//! Copies between files in the kernel: sendfile and copy_file_range.

use alloc::sync::Arc;
use alloc::vec;

use coracle_vfs::types::{oflags::*, FileType};
use coracle_vfs::{HostDevice, OpenFile};

use super::{with_bounce, CHUNK, MAX_RW_COUNT};
use crate::signal::SIGPIPE;
use crate::uaccess::{read_u64, write_u64};
use crate::{Current, Errno, Platform, SysResult};

/// Moves up to `count` bytes from `input` (at `in_off` or its offset) to `output`.
fn copy_between(
    p: &mut Current,
    input: &Arc<OpenFile>,
    mut in_off: Option<u64>,
    output: &Arc<OpenFile>,
    mut out_off: Option<u64>,
    count: u64,
) -> Result<(u64, Option<u64>, Option<u64>), Errno> {
    let count = count.min(MAX_RW_COUNT);
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let mut done = 0u64;
    let mut result = Ok(());
    let mut registered = false;
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        let n = match in_off {
            Some(o) => input.pread(o as i64, &mut buf[..want]),
            None => input.read(&mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                if done == 0 {
                    result = Err(e);
                }
                break;
            }
        };
        let w = match out_off {
            Some(o) => output.pwrite(o as i64, &buf[..n]),
            None => output.write(&buf[..n]),
        };
        // What the output did not take stays in the input (its offset moves back over it),
        // as Linux's splice loop consumes only what it moved.
        let taken = *w.as_ref().unwrap_or(&0);
        if taken < n && in_off.is_none() {
            input.give_back(&buf[taken..n]);
        }
        match w {
            // A blocking output that is full (a pipe, a stream to the host): wait for room.
            Err(Errno::EAGAIN) if done == 0 && !output.nonblocking() => {
                match super::wait_for_file(p, output, &mut registered) {
                    None => continue,
                    Some(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            Ok(w) => {
                done += w as u64;
                if let Some(o) = in_off.as_mut() {
                    *o += w as u64;
                }
                if let Some(o) = out_off.as_mut() {
                    *o += w as u64;
                }
                if w < n {
                    break;
                }
            }
            Err(e) => {
                if done == 0 {
                    result = Err(e);
                }
                break;
            }
        }
        if n < want {
            break;
        }
    }
    p.bounce = buf;
    if result == Err(Errno::EPIPE) {
        crate::signal::raise(p, SIGPIPE);
    }
    result.map(|()| (done, in_off, out_off))
}

pub(crate) fn sendfile(
    p: &mut Current,
    k: &mut dyn Platform,
    out_fd: i32,
    in_fd: i32,
    offset: u64,
    count: u64,
) -> SysResult {
    let input = p.file(in_fd)?;
    let output = p.file(out_fd)?;
    if !input.readable() || !output.writable() {
        return Err(Errno::EBADF);
    }
    if output.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    // The input must be a file with an offset (not a pipe or the console).
    if !input.ops().seekable() || input.ops().host_device().is_some() {
        return Err(Errno::EINVAL);
    }
    if output.ops().host_device().is_some() {
        return copy_to_host(p, k, &input, offset, &output, count);
    }
    let in_off = if offset == 0 {
        None
    } else {
        let o = read_u64(k, offset)? as i64;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    };
    let (n, in_off, _) = copy_between(p, &input, in_off, &output, None, count)?;
    if let Some(o) = in_off {
        write_u64(k, offset, o)?;
    }
    Ok(n)
}

/// sendfile to the console: through the host stream.
fn copy_to_host(
    p: &mut Current,
    k: &mut dyn Platform,
    input: &Arc<OpenFile>,
    offset: u64,
    output: &Arc<OpenFile>,
    count: u64,
) -> SysResult {
    let dev = output.ops().host_device().unwrap_or(HostDevice::Stdout);
    let stream = super::host::stream_of(dev);
    let mut pos = if offset == 0 {
        None
    } else {
        let o = read_u64(k, offset)? as i64;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    };
    let count = count.min(MAX_RW_COUNT);
    let mut registered = false;
    let done = with_bounce(p, |p, buf| {
        let mut done = 0u64;
        while done < count {
            let want = ((count - done) as usize).min(CHUNK);
            let n = match pos {
                Some(o) => input.pread(o as i64, &mut buf[..want]),
                None => input.read(&mut buf[..want]),
            };
            let n = match n {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            // What the host did not take goes back to the input (an offset stays before it).
            let took = if dev == HostDevice::Random {
                n
            } else {
                k.write_stream(stream, &buf[..n])
            };
            if took < n && pos.is_none() {
                input.give_back(&buf[took..n]);
            }
            done += took as u64;
            if let Some(o) = pos.as_mut() {
                *o += took as u64;
            }
            if took == 0 && done == 0 && !output.nonblocking() {
                if let Some(e) =
                    super::host::wait_console(p, crate::console::writers(), &mut registered)
                {
                    return Err(e);
                }
            } else if took == 0 && done == 0 {
                return Err(Errno::EAGAIN);
            } else if took < n {
                break;
            }
        }
        Ok(done)
    })?;
    if let Some(o) = pos {
        write_u64(k, offset, o)?;
    }
    Ok(done)
}

pub(crate) fn copy_file_range(
    p: &mut Current,
    k: &mut dyn Platform,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let input = p.file(fd_in)?;
    let output = p.file(fd_out)?;
    if !input.readable() || !output.writable() || output.flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let (si, so) = (input.inode().stat(), output.inode().stat());
    if si.is_dir() || so.is_dir() {
        return Err(Errno::EISDIR);
    }
    if si.file_type() != FileType::Regular || so.file_type() != FileType::Regular {
        return Err(Errno::EINVAL);
    }
    let read_off = |k: &dyn Platform, ptr: u64| -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let o = read_u64(k, ptr)? as i64;
        u64::try_from(o).map(Some).map_err(|_| Errno::EINVAL)
    };
    let in_off = read_off(k, off_in)?;
    let out_off = read_off(k, off_out)?;
    // Overlapping ranges of one file are refused.
    if si.dev == so.dev && si.ino == so.ino {
        let a = in_off.unwrap_or_else(|| input.offset());
        let b = out_off.unwrap_or_else(|| output.offset());
        if a < b.saturating_add(len) && b < a.saturating_add(len) {
            return Err(Errno::EINVAL);
        }
    }
    let (n, in_off, out_off) = copy_between(p, &input, in_off, &output, out_off, len)?;
    if let Some(o) = in_off {
        write_u64(k, off_in, o)?;
    }
    if let Some(o) = out_off {
        write_u64(k, off_out, o)?;
    }
    Ok(n)
}
