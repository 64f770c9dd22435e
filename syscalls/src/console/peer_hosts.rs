//! The guest's side of a Coracle network's names: the host's `host add|del` control records
//! (`coracle_abi::peer_hosts`) applied to the container's /etc/hosts in place, so that the
//! network's VMs started after this one resolve, and ended ones stop resolving
//! (docs/networks.md, "Names"). glibc, musl and busybox read /etc/hosts again on each lookup.
//!
//! Boot (`setup`) hands over the /etc/hosts file it wrote with [`attach`]; the file is kept
//! by inode, not looked up again, so an update never walks a path (nor waits for a disk) and
//! also reaches the file of a `--read-only` root, as Docker's bind-mounted copy is writable
//! from outside. Records that come before boot wrote the file wait in a short queue.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::peer_hosts::{self, Change};
use coracle_vfs::Inode;
use spin::Mutex;

/// The most records kept until the file is there (a network's VMs starting while this one
/// boots: a handful); later ones are dropped.
const EARLY_RECORDS: usize = 256;

struct State {
    file: Option<Arc<dyn Inode>>,
    early: VecDeque<Vec<u8>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    file: None,
    early: VecDeque::new(),
});

/// The container's /etc/hosts, written at boot: the records that came before it apply now.
pub(crate) fn attach(file: Arc<dyn Inode>) {
    let mut state = STATE.lock();
    for payload in core::mem::take(&mut state.early) {
        let _ = apply(file.as_ref(), &payload);
    }
    state.file = Some(file);
}

/// Carries out one `host` record; a malformed one, or one that does not fit, is dropped.
pub(super) fn record(payload: &[u8]) {
    let mut state = STATE.lock();
    match &state.file {
        Some(file) => {
            let _ = apply(file.as_ref(), payload);
        }
        None if state.early.len() < EARLY_RECORDS => state.early.push_back(payload.to_vec()),
        None => {}
    }
}

/// Applies `payload` to `file`. The new text is written over the old from offset 0 in one
/// write, padded to the old length with a comment when shorter, so a reader at any moment
/// sees whole lines (a truncate first would show it an empty file, a truncate after the
/// tail of an old line); the file never shrinks.
fn apply(file: &dyn Inode, payload: &[u8]) -> Result<(), coracle_vfs::Errno> {
    use coracle_vfs::Errno;
    let change = Change::parse(payload).map_err(|_| Errno::EINVAL)?;
    let size = usize::try_from(file.stat().size).map_err(|_| Errno::EFBIG)?;
    if size > peer_hosts::MAX_FILE {
        return Err(Errno::EFBIG);
    }
    let mut old = alloc::vec![0u8; size];
    let mut got = 0;
    while got < size {
        match file.read_at(got as u64, &mut old[got..])? {
            0 => break,
            n => got += n,
        }
    }
    old.truncate(got);
    let Some(mut new) = peer_hosts::apply(&old, change).map_err(|_| Errno::ENOSPC)? else {
        return Ok(());
    };
    strip_padding(&mut new);
    pad(&mut new, old.len());
    let mut done = 0;
    while done < new.len() {
        done += file.write_at(done as u64, &new[done..])?;
    }
    Ok(())
}

/// The padding line [`pad`] writes: `#`, spaces, a newline.
fn is_padding(line: &[u8]) -> bool {
    line.len() >= 2 && line[0] == b'#' && line[1..].iter().all(|&b| b == b' ')
}

/// Drops the padding lines an earlier update left (they would otherwise pile up).
fn strip_padding(text: &mut Vec<u8>) {
    let kept: Vec<u8> = text
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| !is_padding(l.strip_suffix(b"\n").unwrap_or(l)))
        .flatten()
        .copied()
        .collect();
    *text = kept;
}

/// Pads `text` to `len` bytes with one comment line of spaces (or a newline when one byte
/// is missing).
fn pad(text: &mut Vec<u8>, len: usize) {
    match len.saturating_sub(text.len()) {
        0 => {}
        1 => text.push(b'\n'),
        n => {
            text.push(b'#');
            text.resize(text.len() + n - 2, b' ');
            text.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
    use coracle_vfs::NewNode;

    /// A tmpfs file holding `text`.
    fn file_with(text: &[u8]) -> Arc<dyn Inode> {
        let root = new_tmpfs(
            Arc::new(coracle_vfs::types::EpochClock),
            TmpfsOptions::default(),
        );
        let file = root
            .create(b"hosts", NewNode::Regular, 0o644, 0, 0)
            .unwrap();
        assert_eq!(file.write_at(0, text).unwrap(), text.len());
        file
    }

    fn contents(file: &dyn Inode) -> Vec<u8> {
        let mut buf = alloc::vec![0u8; file.stat().size as usize];
        let n = file.read_at(0, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn records_update_the_file_in_place_and_it_never_shrinks() {
        let boot = b"127.0.0.1\tlocalhost\n172.18.0.3\tapp\n# Coracle network n: x\n";
        let file = file_with(boot);
        let file = file.as_ref();
        apply(file, b"host add name=db addr=172.18.0.2").unwrap();
        apply(file, b"host add name=web addr=172.18.0.4").unwrap();
        let both = contents(file);
        assert!(both.ends_with(b"# Coracle network n: x\n172.18.0.2\tdb\n172.18.0.4\tweb\n"));
        apply(file, b"host del name=db addr=172.18.0.2").unwrap();
        let after = contents(file);
        assert_eq!(after.len(), both.len());
        let padded = [&boot[..], b"172.18.0.4\tweb\n#", &[b' '; 12], b"\n"].concat();
        assert_eq!(after, padded);
        // The padding goes again when the file grows back.
        apply(file, b"host add name=db addr=172.18.0.5").unwrap();
        assert_eq!(
            contents(file),
            [&boot[..], b"172.18.0.4\tweb\n172.18.0.5\tdb\n"].concat()
        );
        // Bad records change nothing.
        assert_eq!(
            apply(file, b"host add name=-x addr=1.2.3.4"),
            Err(coracle_vfs::Errno::EINVAL)
        );
    }

    /// The only test that uses the module's state: records that come before boot wrote the
    /// file wait, then apply in order; later ones apply at once.
    #[test]
    fn records_before_the_file_wait_for_it() {
        record(b"host add name=db addr=10.0.0.2");
        record(b"host add name=bad#name addr=10.0.0.9");
        record(b"host add name=web addr=10.0.0.3");
        let file = file_with(b"10.0.0.4\tme\n# Coracle network n\n");
        attach(file.clone());
        assert_eq!(
            contents(file.as_ref()),
            b"10.0.0.4\tme\n# Coracle network n\n10.0.0.2\tdb\n10.0.0.3\tweb\n"
        );
        record(b"host del name=db addr=10.0.0.2");
        assert!(contents(file.as_ref())
            .starts_with(b"10.0.0.4\tme\n# Coracle network n\n10.0.0.3\tweb\n#"));
    }

    #[test]
    fn padding_of_one_and_more_bytes() {
        let mut t = b"ab\n".to_vec();
        pad(&mut t, 4);
        assert_eq!(t, b"ab\n\n");
        pad(&mut t, 8);
        assert_eq!(t, b"ab\n\n#  \n");
        strip_padding(&mut t);
        assert_eq!(t, b"ab\n\n");
    }
}
