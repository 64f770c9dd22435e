//! Fuzzes the `host add|del` control records and their update of /etc/hosts
//! (`coracle_abi::peer_hosts`): the input is split at its first 0 byte into a file and a
//! record payload. Neither panics; an accepted record's update keeps every line before the
//! marker, and applying it a second time changes nothing.
#![no_main]

use coracle_abi::peer_hosts::{apply, Change, MARKER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (hosts, record) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(change) = Change::parse(record) else {
        return;
    };
    assert_eq!(Change::parse(change.encode().as_bytes()), Ok(change));
    let Ok(Some(new)) = apply(hosts, change) else {
        return;
    };
    let marker = MARKER.as_bytes();
    let head = |text: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for line in text.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(marker) {
                break;
            }
            out.extend_from_slice(line);
        }
        out
    };
    let (before, after) = (head(hosts), head(&new));
    assert!(after.starts_with(before.strip_suffix(b"\n").unwrap_or(&before)));
    assert_eq!(apply(&new, change), Ok(None));
});
