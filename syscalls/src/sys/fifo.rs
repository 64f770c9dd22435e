//! Opening a FIFO: a reader waits for a writer and a writer for a reader (fifo(7)).
//!
//! An opener counts as its end while it waits, so the partner's open sees it and goes on
//! (Linux's `fifo_open`/`wait_for_partner`): the end is opened on the first run, kept in
//! [`Current::held`] across the re-runs of the call, and the wait ends when the other end's
//! open count moves. `O_NONBLOCK`: a reader opens at once, a writer without a reader gets
//! `ENXIO`; `O_RDWR` never waits. A pipe from pipe(2) reopened through `/proc/self/fd/N` (bash's
//! `<(...)`) never waits and never fails: Linux checks for a partner only when `!is_pipe`.

use alloc::boxed::Box;
use alloc::sync::Arc;

use coracle_vfs::pipe::Pipe;
use coracle_vfs::types::oflags::*;
use coracle_vfs::{FileOps, Wake};

use crate::{Current, Errno};

/// A FIFO end opened by a call that waits for the other end.
struct Opening {
    pipe: Arc<Pipe>,
    ops: Box<dyn FileOps>,
    /// The other end's open count when the wait began.
    partner_opens: u64,
}

/// Opens `pipe` for `flags` (not `O_PATH`), waiting for the other end when Linux does;
/// `anonymous` for a pipe(2) pipe, which opens at once.
pub(crate) fn open_fifo(
    p: &mut Current,
    pipe: &Arc<Pipe>,
    flags: u32,
    anonymous: bool,
) -> Result<Box<dyn FileOps>, Errno> {
    let reader = match flags & O_ACCMODE {
        O_RDONLY if anonymous => return Ok(pipe.open_reader()),
        O_WRONLY if anonymous => return Ok(pipe.open_writer()),
        O_RDONLY => true,
        O_WRONLY => false,
        _ => return Ok(pipe.open_both()),
    };
    let nonblock = flags & O_NONBLOCK != 0;
    let partner_count = |pipe: &Pipe| {
        let (reads, writes) = pipe.opened_counts();
        if reader {
            writes
        } else {
            reads
        }
    };
    let partners = |pipe: &Pipe| {
        if reader {
            pipe.writers()
        } else {
            pipe.readers()
        }
    };
    // The end this call opened on an earlier run, if it is still the same FIFO.
    let held = p
        .held
        .take()
        .and_then(|h| h.downcast::<Opening>().ok())
        .filter(|o| Arc::ptr_eq(&o.pipe, pipe));
    let opening = match held {
        Some(o) => *o,
        None => {
            if !reader && nonblock && pipe.readers() == 0 {
                return Err(Errno::ENXIO);
            }
            let partner_opens = partner_count(pipe);
            let ops = if reader {
                pipe.open_reader()
            } else {
                pipe.open_writer()
            };
            Opening {
                pipe: pipe.clone(),
                ops,
                partner_opens,
            }
        }
    };
    let done = |o: &Opening| partners(pipe) > 0 || partner_count(pipe) != o.partner_opens;
    if nonblock || done(&opening) {
        return Ok(opening.ops);
    }
    if p.resumed() == Some(Wake::Interrupted) {
        // Dropping the end undoes the open.
        return Err(Errno::ERESTARTSYS);
    }
    p.wait_on(pipe.queue(), u64::MAX);
    if done(&opening) {
        return Ok(opening.ops);
    }
    p.held = Some(Box::new(opening));
    Err(Errno::WAIT)
}
