//! The host-to-guest byte framing (docs/guest-protocol.md, "Input framing"): bytes as they
//! are, `0xff 0x00` a literal 0xff, `0xff 0x01` the end of input, `0xff 0x02 LEN PAYLOAD` a
//! control record of LEN bytes.
//!
//! A [`Decoder`] keeps its state between calls, so an escape or a record split across two
//! device buffers decodes as if it had come in one. It hands data out only as far as the
//! reader has room for, and stops there: the rest stays with the caller (the device buffer
//! is not given back to the host until it is consumed), which is what makes input
//! flow-controlled end to end.

use alloc::vec::Vec;

/// The escape byte.
pub const ESCAPE: u8 = 0xff;
/// After [`ESCAPE`]: a literal 0xff.
pub const LITERAL: u8 = 0x00;
/// After [`ESCAPE`]: the end of input.
pub const END: u8 = 0x01;
/// After [`ESCAPE`]: a control record follows (one length byte, then the payload).
pub const RECORD: u8 = 0x02;

/// What the framed stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Input bytes, unescaped.
    Data(&'a [u8]),
    /// The end of input: later reads return 0.
    End,
    /// A control record's payload (`name key=value ...`).
    Record(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Escape,
    Length,
    Record { left: u8 },
}

/// The decoder of one framed stream.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    record: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub const fn new() -> Self {
        Decoder {
            state: State::Data,
            record: Vec::new(),
        }
    }

    /// Decodes from the start of `input`, handing what it finds to `sink`, at most `room`
    /// data bytes in all; returns how many bytes of `input` it consumed (all of them unless
    /// the room ran out before a data byte). Escapes the protocol does not define are
    /// skipped.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut room: usize,
        mut sink: impl FnMut(Event<'_>),
    ) -> usize {
        let mut i = 0;
        while i < input.len() {
            let byte = input[i];
            match self.state {
                State::Data => {
                    let rest = &input[i..];
                    let run = find_escape(rest);
                    let take = run.min(room);
                    if take > 0 {
                        sink(Event::Data(&rest[..take]));
                        room -= take;
                        i += take;
                    }
                    if take < run {
                        return i;
                    }
                    if i < input.len() {
                        self.state = State::Escape;
                        i += 1;
                    }
                }
                State::Escape => {
                    match byte {
                        LITERAL if room == 0 => return i,
                        LITERAL => {
                            sink(Event::Data(&[ESCAPE]));
                            room -= 1;
                        }
                        END => sink(Event::End),
                        RECORD => {
                            self.state = State::Length;
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    self.state = State::Data;
                    i += 1;
                }
                State::Length => {
                    self.record.clear();
                    i += 1;
                    if byte == 0 {
                        sink(Event::Record(&[]));
                        self.state = State::Data;
                    } else {
                        self.state = State::Record { left: byte };
                    }
                }
                State::Record { left } => {
                    let take = usize::from(left).min(input.len() - i);
                    self.record.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let left = left - take as u8;
                    if left == 0 {
                        sink(Event::Record(&self.record));
                        self.state = State::Data;
                    } else {
                        self.state = State::Record { left };
                    }
                }
            }
        }
        i
    }
}

/// The index of the first [`ESCAPE`] in `bytes` (its length if none), eight bytes a step:
/// input is mostly plain data, and a byte loop is what an emulated CPU pays most for.
fn find_escape(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        // A 0xff byte is a zero byte of the complement.
        let x = !u64::from_le_bytes(w);
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == ESCAPE)
        .unwrap_or(bytes.len() - at)
}

/// The words of a record: its name and `key=value` fields.
#[derive(Debug)]
pub struct Record<'a> {
    pub name: &'a [u8],
    fields: &'a [u8],
}

impl<'a> Record<'a> {
    pub fn parse(payload: &'a [u8]) -> Self {
        let payload = payload.trim_ascii();
        let end = payload
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(payload.len());
        Record {
            name: &payload[..end],
            fields: &payload[end..],
        }
    }

    /// The value of `key`, as a decimal number.
    pub fn number(&self, key: &[u8]) -> Option<u32> {
        let value = self
            .fields
            .split(u8::is_ascii_whitespace)
            .find_map(|w| w.strip_prefix(key)?.strip_prefix(b"="))?;
        core::str::from_utf8(value).ok()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Decodes `input` in pieces of `step` bytes with unlimited room.
    fn decode(input: &[u8], step: usize) -> (Vec<u8>, Vec<Vec<u8>>, usize) {
        let mut d = Decoder::new();
        let (mut data, mut records, mut ends) = (Vec::new(), Vec::new(), 0);
        for piece in input.chunks(step) {
            let used = d.feed(piece, usize::MAX, |e| match e {
                Event::Data(b) => data.extend_from_slice(b),
                Event::End => ends += 1,
                Event::Record(r) => records.push(r.to_vec()),
            });
            assert_eq!(used, piece.len());
        }
        (data, records, ends)
    }

    #[test]
    fn escapes_records_and_end_in_any_split() {
        let input = b"a\xff\x00b\xff\x02\x0bsignal n=15c\xff\x02\x00\xff\x07\xff\x01";
        for step in 1..=input.len() {
            let (data, records, ends) = decode(input, step);
            assert_eq!(data, b"a\xffbc", "step {step}");
            assert_eq!(records, vec![b"signal n=15".to_vec(), Vec::new()]);
            assert_eq!(ends, 1);
        }
    }

    #[test]
    fn stops_where_the_room_ends() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        let input = b"abc\xff\x00de";
        let mut at = 0;
        for room in [2, 0, 1, 1, 5] {
            at += d.feed(&input[at..], room, |e| {
                if let Event::Data(b) = e {
                    got.extend_from_slice(b);
                }
            });
        }
        assert_eq!(at, input.len());
        assert_eq!(got, b"abc\xffde");
        // A record is taken even with no room for data.
        let mut records = 0;
        let used = d.feed(b"\xff\x02\x04stopx", 0, |e| {
            if let Event::Record(r) = e {
                assert_eq!(r, b"stop");
                records += 1;
            }
        });
        assert_eq!((used, records), (7, 1));
    }

    #[test]
    fn escapes_are_found_at_every_offset() {
        for len in 0..40 {
            let mut v = vec![0x7fu8; len];
            assert_eq!(find_escape(&v), len);
            for at in 0..len {
                v[at] = ESCAPE;
                assert_eq!(find_escape(&v), at, "len {len}");
                v[at] = 0xfe;
            }
        }
    }

    #[test]
    fn record_fields() {
        let r = Record::parse(b"winsize rows=24 cols=80");
        assert_eq!(r.name, b"winsize");
        assert_eq!(r.number(b"rows"), Some(24));
        assert_eq!(r.number(b"cols"), Some(80));
        assert_eq!(r.number(b"row"), None);
        assert_eq!(Record::parse(b"signal n=x").number(b"n"), None);
        assert_eq!(Record::parse(b"stop").name, b"stop");
    }
}
