//! The host side of docs/guest-protocol.md: kernel command line, stdin framing, control records.
//!
//! Pure encoding and decoding only; `vm` moves the bytes between QEMU and the terminal.

use std::io::{self, Read, Write};

/// What the kernel reports on the control channel (port 0xec), one record per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `entry ticks=N`: TSC ticks from the kernel's first instruction to the program's first.
    Entry { ticks: u64 },
    /// `exit status=S tsc_khz=K`: the program's docker-style status and the guest TSC frequency.
    Exit { status: u8, tsc_khz: u64 },
    /// `panic`: the kernel failed; the report is on the kernel log.
    Panic,
}

impl Control {
    /// Parses one record line; `None` for a line this version does not understand.
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = line.split_ascii_whitespace();
        let name = words.next()?;
        let fields: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let field = |key: &str| -> Option<u64> {
            let (_, value) = fields.iter().find(|(k, _)| *k == key)?;
            value.parse().ok()
        };
        match name {
            "entry" => Some(Self::Entry {
                ticks: field("ticks")?,
            }),
            "exit" => Some(Self::Exit {
                status: u8::try_from(field("status")?).ok()?,
                tsc_khz: field("tsc_khz").unwrap_or(0),
            }),
            "panic" => Some(Self::Panic),
            _ => None,
        }
    }
}

/// The switches that go on the kernel command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelFlags {
    pub tty: bool,
    pub stdin: bool,
    pub verbose: bool,
    /// `--timing`: the kernel measures its TSC frequency at exit if it has not yet.
    pub timing: bool,
    pub cpus: u32,
    /// `-t`: the host terminal's size (rows, columns).
    pub winsize: Option<(u16, u16)>,
}

/// Builds the kernel command line (`-append`).
pub fn kernel_cmdline(flags: KernelFlags, epoch_ns: u128, extra: &[String]) -> String {
    let flag = |b: bool| if b { '1' } else { '0' };
    let mut line = format!(
        "coracle.tty={} coracle.stdin={} coracle.epoch={epoch_ns} coracle.verbose={} \
         coracle.timing={} coracle.cpus={}",
        flag(flags.tty),
        flag(flags.stdin),
        flag(flags.verbose),
        flag(flags.timing),
        flags.cpus
    );
    if let Some((rows, cols)) = flags.winsize {
        line.push_str(&format!(" coracle.winsize={rows}x{cols}"));
    }
    for token in extra {
        line.push(' ');
        line.push_str(token);
    }
    line
}

/// The escape byte of the stdin framing; sent doubled as `0xff 0x00`.
const ESCAPE: u8 = 0xff;
/// `0xff 0x01`: end of input.
pub const STDIN_EOF: [u8; 2] = [ESCAPE, 0x01];

/// `0xff 0x02 LEN PAYLOAD`: a control record for the guest.
const RECORD: u8 = 0x02;

/// A control record for the guest, framed (`signal n=15`, `winsize rows=24 cols=80`,
/// `stop`); `None` if the payload is longer than the one length byte allows.
pub fn control_record(payload: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(payload.len()).ok()?;
    let mut out = vec![ESCAPE, RECORD, len];
    out.extend_from_slice(payload.as_bytes());
    Some(out)
}

/// Appends `input` to `out` with every `0xff` escaped as `0xff 0x00`.
pub fn frame_stdin(input: &[u8], out: &mut Vec<u8>) {
    for &byte in input {
        out.push(byte);
        if byte == ESCAPE {
            out.push(0x00);
        }
    }
}

/// The control record payload of a new window size (`winsize rows=R cols=C`).
pub fn winsize_payload(rows: u16, cols: u16) -> String {
    format!("winsize rows={rows} cols={cols}")
}

/// Copies `input` to `output` framed, ending with the end-of-input mark; flushes per chunk so
/// an interactive program sees each line as soon as it is typed.
pub fn copy_stdin_framed(mut input: impl Read, mut output: impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut framed = Vec::with_capacity(buf.len() * 2);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        framed.clear();
        frame_stdin(&buf[..n], &mut framed);
        output.write_all(&framed)?;
        output.flush()?;
    }
    output.write_all(&STDIN_EOF)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_records() {
        assert_eq!(
            Control::parse("entry ticks=12345"),
            Some(Control::Entry { ticks: 12345 })
        );
        assert_eq!(
            Control::parse("exit status=137 tsc_khz=2500000\n".trim_end()),
            Some(Control::Exit {
                status: 137,
                tsc_khz: 2_500_000
            })
        );
        assert_eq!(
            Control::parse("exit tsc_khz=0 status=0"),
            Some(Control::Exit {
                status: 0,
                tsc_khz: 0
            })
        );
        assert_eq!(Control::parse("panic"), Some(Control::Panic));
        assert_eq!(Control::parse("exit status=256 tsc_khz=1"), None);
        assert_eq!(Control::parse("exit tsc_khz=1"), None);
        assert_eq!(Control::parse("entry ticks=-1"), None);
        assert_eq!(Control::parse("bogus a=1"), None);
        assert_eq!(Control::parse(""), None);
    }

    #[test]
    fn winsize_is_a_control_record() {
        let r = control_record(&winsize_payload(50, 132)).unwrap();
        assert_eq!(&r[..3], &[0xff, 0x02, 24]);
        assert_eq!(&r[3..], b"winsize rows=50 cols=132");
    }

    #[test]
    fn stdin_framing_escapes_ff() {
        let mut out = Vec::new();
        frame_stdin(&[1, 0xff, 2, 0xff, 0xff, 0x00, 0x01], &mut out);
        assert_eq!(out, [1, 0xff, 0, 2, 0xff, 0, 0xff, 0, 0x00, 0x01]);
    }

    #[test]
    fn stdin_copy_ends_with_eof_mark() {
        let mut out = Vec::new();
        copy_stdin_framed(&b"hi\xff"[..], &mut out).unwrap();
        assert_eq!(out, b"hi\xff\x00\xff\x01");
        let mut empty = Vec::new();
        copy_stdin_framed(&b""[..], &mut empty).unwrap();
        assert_eq!(empty, STDIN_EOF);
    }

    #[test]
    fn records_are_framed() {
        assert_eq!(
            control_record("signal n=15").unwrap(),
            b"\xff\x02\x0bsignal n=15"
        );
        assert_eq!(control_record("stop").unwrap(), b"\xff\x02\x04stop");
        assert!(control_record(&"x".repeat(256)).is_none());
        assert_eq!(control_record(&"x".repeat(255)).unwrap().len(), 258);
    }

    #[test]
    fn cmdline() {
        assert_eq!(
            kernel_cmdline(
                KernelFlags {
                    tty: true,
                    cpus: 2,
                    ..KernelFlags::default()
                },
                42,
                &["coracle.selftest=fault".into()]
            ),
            "coracle.tty=1 coracle.stdin=0 coracle.epoch=42 coracle.verbose=0 coracle.timing=0 \
             coracle.cpus=2 coracle.selftest=fault"
        );
    }
}
