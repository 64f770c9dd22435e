//! The messages of `coracle exec` (docs/guest-protocol.md, "Exec"), shared by the kernel and
//! the host tool so that both sides read and write one format.
//!
//! Each message is a 9-byte header, the kind (one byte), the session id (u32, little endian)
//! and the payload's length (u32, little endian, at most [`MAX_PAYLOAD`]), then the payload.
//! The host sends [`START`], [`STDIN`], [`STDIN_END`] and [`WINSIZE`] on the exec input
//! port; the guest answers with [`STDOUT`], [`STDERR`] and [`EXIT`] on the exec output port.
//! The same messages, with id 0, travel between `coracle exec` and the VM's supervisor.
//! Either side's input is untrusted: a [`Decoder`] never panics, and a length over the limit
//! breaks the stream for good (everything after it is dropped) instead of allocating.

use alloc::vec::Vec;

/// Host → guest: start a process; the payload is [`StartFields`] encoded.
pub const START: u8 = 1;
/// Host → guest: bytes for the process's stdin.
pub const STDIN: u8 = 2;
/// Host → guest: the end of the process's stdin.
pub const STDIN_END: u8 = 3;
/// Host → guest: the terminal's size under `-t`, rows and columns as two u16 (little endian).
pub const WINSIZE: u8 = 4;
/// Guest → host: bytes the process wrote to its stdout (its terminal under `-t`).
pub const STDOUT: u8 = 16;
/// Guest → host: bytes the process wrote to its stderr.
pub const STDERR: u8 = 17;
/// Guest → host: the process ended; the payload is one byte, the docker-style status.
pub const EXIT: u8 = 18;

/// The header's size.
pub const HEADER: usize = 9;
/// The largest payload (a fraction of a console transmit buffer, so a message always fits
/// in one).
pub const MAX_PAYLOAD: usize = 32 * 1024;

/// The header of a message of `kind` for session `id` with `len` payload bytes.
pub fn header(kind: u8, id: u32, len: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0] = kind;
    h[1..5].copy_from_slice(&id.to_le_bytes());
    h[5..9].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

/// One whole message (`payload` at most [`MAX_PAYLOAD`] bytes; the caller splits data).
pub fn encode(kind: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&header(kind, id, payload.len()));
    out.extend_from_slice(payload);
    out
}

/// A decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u8,
    pub id: u32,
    pub payload: &'a [u8],
}

/// The incremental decoder of one stream of messages: a message split across reads decodes
/// as if it had come whole.
#[derive(Debug, Default)]
pub struct Decoder {
    head: [u8; HEADER],
    have_head: usize,
    payload: Vec<u8>,
    /// The payload length of the message being read, once its header is complete.
    want: Option<usize>,
    broken: bool,
}

impl Decoder {
    pub const fn new() -> Self {
        Decoder {
            head: [0; HEADER],
            have_head: 0,
            payload: Vec::new(),
            want: None,
            broken: false,
        }
    }

    /// Whether a length over [`MAX_PAYLOAD`] arrived (the rest of the stream is dropped).
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// Decodes from the start of `input`, handing each whole message to `sink`, which says
    /// whether to go on; returns how many bytes were consumed (all of them, unless `sink`
    /// said stop: then up to the end of that message).
    pub fn feed(&mut self, input: &[u8], mut sink: impl FnMut(Message<'_>) -> bool) -> usize {
        let mut i = 0;
        while i < input.len() && !self.broken {
            let Some(want) = self.want else {
                let take = (HEADER - self.have_head).min(input.len() - i);
                self.head[self.have_head..self.have_head + take]
                    .copy_from_slice(&input[i..i + take]);
                self.have_head += take;
                i += take;
                if self.have_head == HEADER {
                    let len = u32::from_le_bytes([
                        self.head[5],
                        self.head[6],
                        self.head[7],
                        self.head[8],
                    ]) as usize;
                    if len > MAX_PAYLOAD {
                        self.broken = true;
                        return input.len();
                    }
                    self.want = Some(len);
                    self.payload.clear();
                    if len == 0 && !self.finish(&mut sink) {
                        return i;
                    }
                }
                continue;
            };
            let take = (want - self.payload.len()).min(input.len() - i);
            self.payload.extend_from_slice(&input[i..i + take]);
            i += take;
            if self.payload.len() == want && !self.finish(&mut sink) {
                return i;
            }
        }
        if self.broken {
            return input.len();
        }
        i
    }

    /// Hands the completed message out and gets ready for the next header.
    fn finish(&mut self, sink: &mut impl FnMut(Message<'_>) -> bool) -> bool {
        self.want = None;
        self.have_head = 0;
        let id = u32::from_le_bytes([self.head[1], self.head[2], self.head[3], self.head[4]]);
        sink(Message {
            kind: self.head[0],
            id,
            payload: &self.payload,
        })
    }
}

/// What a [`START`] message asks for. Its payload is a list of NUL-terminated entries
/// `KEY=VALUE`: `arg=` (repeated, argv in order), `env=K=V` (repeated, added to the
/// container's environment), `cwd=DIR`, `user=USER[:GROUP]`, `tty=ROWSxCOLS` (a terminal,
/// with its size; `0x0` if unknown) and `stdin=1` (`-i`). Unknown keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartFields {
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    pub cwd: Option<Vec<u8>>,
    pub user: Option<Vec<u8>>,
    pub tty: Option<(u16, u16)>,
    pub stdin: bool,
}

impl StartFields {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut entry = |key: &[u8], value: &[u8]| {
            out.extend_from_slice(key);
            out.push(b'=');
            out.extend_from_slice(value);
            out.push(0);
        };
        for a in &self.args {
            entry(b"arg", a);
        }
        for e in &self.env {
            entry(b"env", e);
        }
        if let Some(cwd) = &self.cwd {
            entry(b"cwd", cwd);
        }
        if let Some(user) = &self.user {
            entry(b"user", user);
        }
        if let Some((rows, cols)) = self.tty {
            entry(b"tty", alloc::format!("{rows}x{cols}").as_bytes());
        }
        if self.stdin {
            entry(b"stdin", b"1");
        }
        out
    }

    /// Parses a payload; an entry without `=` or a bad size is ignored.
    pub fn parse(payload: &[u8]) -> StartFields {
        let mut f = StartFields::default();
        for entry in payload.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let Some(eq) = entry.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&entry[..eq], &entry[eq + 1..]);
            match key {
                b"arg" => f.args.push(value.to_vec()),
                b"env" => f.env.push(value.to_vec()),
                b"cwd" => f.cwd = Some(value.to_vec()),
                b"user" => f.user = Some(value.to_vec()),
                b"tty" => f.tty = parse_size(value),
                b"stdin" => f.stdin = value == b"1",
                _ => {}
            }
        }
        f
    }
}

/// `ROWSxCOLS` as two u16.
fn parse_size(text: &[u8]) -> Option<(u16, u16)> {
    let text = core::str::from_utf8(text).ok()?;
    let (rows, cols) = text.split_once('x')?;
    Some((rows.parse().ok()?, cols.parse().ok()?))
}

/// A [`WINSIZE`] payload.
pub fn winsize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let mut p = [0u8; 4];
    p[..2].copy_from_slice(&rows.to_le_bytes());
    p[2..].copy_from_slice(&cols.to_le_bytes());
    p
}

/// Reads a [`WINSIZE`] payload.
pub fn parse_winsize(payload: &[u8]) -> Option<(u16, u16)> {
    match payload {
        [a, b, c, d] => Some((u16::from_le_bytes([*a, *b]), u16::from_le_bytes([*c, *d]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn collect(d: &mut Decoder, input: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
        let mut out = Vec::new();
        d.feed(input, |m| {
            out.push((m.kind, m.id, m.payload.to_vec()));
            true
        });
        out
    }

    #[test]
    fn messages_split_anywhere_decode_whole() {
        let mut stream = encode(STDOUT, 7, b"hello");
        stream.extend(encode(EXIT, 7, &[3]));
        stream.extend(encode(STDIN_END, 1, b""));
        let want = vec![
            (STDOUT, 7, b"hello".to_vec()),
            (EXIT, 7, vec![3]),
            (STDIN_END, 1, vec![]),
        ];
        for cut in 0..stream.len() {
            let mut d = Decoder::new();
            let mut got = collect(&mut d, &stream[..cut]);
            got.extend(collect(&mut d, &stream[cut..]));
            assert_eq!(got, want, "cut at {cut}");
        }
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in &stream {
            got.extend(collect(&mut d, core::slice::from_ref(b)));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_stop_leaves_the_rest_unconsumed() {
        let mut stream = encode(STDIN, 1, b"ab");
        stream.extend(encode(STDIN, 1, b"cd"));
        let mut d = Decoder::new();
        let mut seen = 0;
        let used = d.feed(&stream, |_| {
            seen += 1;
            false
        });
        assert_eq!((seen, used), (1, HEADER + 2));
        assert_eq!(
            collect(&mut d, &stream[used..]),
            [(STDIN, 1, b"cd".to_vec())]
        );
    }

    #[test]
    fn an_oversized_length_breaks_the_stream_without_panicking() {
        let mut d = Decoder::new();
        let mut bad = header(STDOUT, 1, MAX_PAYLOAD + 1).to_vec();
        bad.extend(encode(EXIT, 1, &[0]));
        assert!(collect(&mut d, &bad).is_empty());
        assert!(d.broken());
        assert!(collect(&mut d, &encode(EXIT, 1, &[0])).is_empty());
        // Random bytes never panic.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..200 {
            let mut d = Decoder::new();
            let bytes: Vec<u8> = (0..300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x % 7) as u8
                })
                .collect();
            collect(&mut d, &bytes);
        }
    }

    #[test]
    fn start_fields_round_trip() {
        let f = StartFields {
            args: vec![
                b"sh".to_vec(),
                b"-c".to_vec(),
                b"echo a=b".to_vec(),
                Vec::new(),
            ],
            env: vec![b"A=1".to_vec()],
            cwd: Some(b"/tmp".to_vec()),
            user: Some(b"nobody:nogroup".to_vec()),
            tty: Some((24, 80)),
            stdin: true,
        };
        let parsed = StartFields::parse(&f.encode());
        // An empty argument is an empty entry's value, kept.
        assert_eq!(parsed, f);
        let odd = StartFields::parse(b"junk\0tty=12\0tty=axb\0stdin=0\0new=1\0\0\xff\0");
        assert_eq!(odd, StartFields::default());
        assert_eq!(parse_winsize(&winsize_payload(50, 132)), Some((50, 132)));
        assert_eq!(parse_winsize(&[1, 2, 3]), None);
    }
}
