//! The line discipline (Linux's N_TTY): what typed bytes become for a reader, what the
//! terminal echoes, and how output is processed (OPOST).
//!
//! Pure state with no processes or locks: [`super::Tty`] wraps it, sends the signals it asks
//! for and wakes readers. It never panics and holds at most [`BUF_SIZE`] input bytes, whatever
//! is typed (fuzzed by `syscalls/fuzz`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use coracle_abi::signal::{SIGINT, SIGQUIT, SIGTSTP};
use coracle_abi::termios::*;

/// How many input bytes wait for a reader at most (N_TTY_BUF_SIZE).
pub const BUF_SIZE: usize = 4096;

/// What [`Ldisc::receive`] did with a run of input bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// How many bytes it took; the rest wait until a reader makes room.
    pub consumed: usize,
    /// The signals typed (bit `n` for signal `n`), for the foreground process group.
    pub signals: u64,
    /// Whether readable input appeared (readers should be woken).
    pub readable: bool,
}

/// What the user erases with (Linux's eraser kill types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Erase {
    Char,
    Word,
    Line,
}

/// One terminal's input queue, settings and output column.
#[derive(Debug, Clone)]
pub struct Ldisc {
    termios: Termios,
    /// Bytes a read may take: complete lines in canonical mode, everything otherwise.
    ready: VecDeque<u8>,
    /// Canonical mode: the lengths of the complete lines at the front of `ready` (0 for an
    /// end of file typed at the start of a line).
    lines: VecDeque<usize>,
    /// Canonical mode: the line being typed.
    edit: Vec<u8>,
    /// The next byte is taken literally (VLNEXT).
    lnext: bool,
    /// The output column, for erasing tabs and ONOCR.
    column: usize,
    /// The column where the line being typed started.
    canon_column: usize,
}

impl Default for Ldisc {
    fn default() -> Self {
        Self::new(Termios::cooked())
    }
}

fn bit(sig: u32) -> u64 {
    1 << sig
}

/// Control characters as the line discipline sees them (ASCII's; Linux's `iscntrl`).
fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl Ldisc {
    pub fn new(termios: Termios) -> Self {
        Ldisc {
            termios,
            ready: VecDeque::new(),
            lines: VecDeque::new(),
            edit: Vec::new(),
            lnext: false,
            column: 0,
            canon_column: 0,
        }
    }

    pub fn termios(&self) -> &Termios {
        &self.termios
    }

    fn iflag(&self, f: u32) -> bool {
        self.termios.c_iflag & f != 0
    }
    fn oflag(&self, f: u32) -> bool {
        self.termios.c_oflag & f != 0
    }
    fn lflag(&self, f: u32) -> bool {
        self.termios.c_lflag & f != 0
    }

    /// Whether the terminal is in canonical (line-by-line) mode.
    pub fn canonical(&self) -> bool {
        self.lflag(ICANON)
    }

    /// Whether `c` is the control character `index` (0 disables one: _POSIX_VDISABLE).
    fn is(&self, c: u8, index: usize) -> bool {
        let v = self.termios.c_cc[index];
        v != 0 && v == c
    }

    fn is_continuation(&self, c: u8) -> bool {
        self.iflag(IUTF8) && c & 0xc0 == 0x80
    }

    /// New settings. Switching canonical mode off makes the line being typed readable;
    /// switching it on makes what is waiting one line (n_tty_set_termios).
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.canonical();
        self.termios = t;
        let now = self.canonical();
        if was && !now {
            self.ready.extend(self.edit.drain(..));
            self.lines.clear();
        } else if !was && now {
            self.lines.clear();
            if !self.ready.is_empty() {
                self.lines.push_back(self.ready.len());
            }
        }
        if was != now {
            self.lnext = false;
        }
    }

    /// Drops all pending input (TCIFLUSH, a signal character without NOFLSH).
    pub fn flush_input(&mut self) {
        self.ready.clear();
        self.lines.clear();
        self.edit.clear();
        self.lnext = false;
    }

    /// Bytes a read can take now: complete lines in canonical mode (FIONREAD).
    pub fn readable_bytes(&self) -> usize {
        if self.canonical() {
            self.lines.iter().sum()
        } else {
            self.ready.len()
        }
    }

    /// Whether a read would return now (data, or an end of file typed in canonical mode).
    pub fn has_input(&self) -> bool {
        if self.canonical() {
            !self.lines.is_empty()
        } else {
            !self.ready.is_empty()
        }
    }

    /// Input bytes held (complete or being typed).
    fn held(&self) -> usize {
        self.ready.len() + self.edit.len()
    }

    /// Reads into `buf`: in canonical mode at most one line (an empty one is an end of file
    /// and returns 0), otherwise what is there. `None` when nothing is ready.
    pub fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        if !self.has_input() {
            return None;
        }
        let n = if self.canonical() {
            let len = self.lines[0];
            let n = len.min(buf.len());
            if n == len {
                self.lines.pop_front();
            } else {
                self.lines[0] -= n;
            }
            n
        } else {
            buf.len().min(self.ready.len())
        };
        for (dst, src) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *dst = src;
        }
        Some(n)
    }

    /// Takes typed bytes from `data`: echoes into `echo` (already output-processed), queues
    /// input, reports signal characters. Stops early only when the queue is full of input a
    /// reader has yet to take.
    pub fn receive(&mut self, data: &[u8], echo: &mut Vec<u8>) -> Received {
        let mut r = Received::default();
        for &c in data {
            if self.held() >= BUF_SIZE - 1 && !(self.canonical() && self.lines.is_empty()) {
                // Full of input that a reader will take: the rest waits (the driver is
                // throttled). A canonical queue with no complete line goes on taking bytes
                // (dropping ordinary ones), or a line end could never arrive.
                break;
            }
            r.consumed += 1;
            self.receive_one(c, echo, &mut r);
        }
        r
    }

    fn receive_one(&mut self, mut c: u8, echo: &mut Vec<u8>, r: &mut Received) {
        if self.iflag(ISTRIP) {
            c &= 0x7f;
        }
        if self.iflag(IUCLC) && self.lflag(IEXTEN) {
            c = c.to_ascii_lowercase();
        }
        if self.lnext {
            self.lnext = false;
            self.put(c, echo, r);
            return;
        }
        if self.iflag(IXON) && (self.is(c, VSTART) || self.is(c, VSTOP)) {
            // Output flow control is not modelled: output always flows. The characters are
            // taken out of the input as Linux does.
            return;
        }
        if self.lflag(ISIG) {
            let sig = if self.is(c, VINTR) {
                Some(SIGINT)
            } else if self.is(c, VQUIT) {
                Some(SIGQUIT)
            } else if self.is(c, VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if !self.lflag(NOFLSH) {
                    self.flush_input();
                }
                if self.lflag(ECHO) {
                    self.echo_char(c, echo);
                }
                r.signals |= bit(sig);
                return;
            }
        }
        if c == b'\r' {
            if self.iflag(IGNCR) {
                return;
            }
            if self.iflag(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && self.iflag(INLCR) {
            c = b'\r';
        }
        if self.canonical() {
            if self.is(c, VERASE) {
                return self.erase(Erase::Char, echo);
            }
            if self.is(c, VKILL) {
                return self.erase(Erase::Line, echo);
            }
            if self.lflag(IEXTEN) {
                if self.is(c, VWERASE) {
                    return self.erase(Erase::Word, echo);
                }
                if self.is(c, VLNEXT) {
                    self.lnext = true;
                    if self.lflag(ECHO) && self.lflag(ECHOCTL) {
                        self.opost_byte(b'^', echo);
                        self.opost_byte(b'\x08', echo);
                    }
                    return;
                }
                if self.is(c, VREPRINT) && self.lflag(ECHO) {
                    self.echo_char(c, echo);
                    self.opost_byte(b'\n', echo);
                    self.canon_column = self.column;
                    for c in core::mem::take(&mut self.edit) {
                        self.echo_char(c, echo);
                        self.edit.push(c);
                    }
                    return;
                }
            }
            if c == b'\n' {
                if self.lflag(ECHO) || self.lflag(ECHONL) {
                    self.opost_byte(b'\n', echo);
                }
                return self.end_line(Some(c), r);
            }
            if self.is(c, VEOF) {
                return self.end_line(None, r);
            }
            if self.is(c, VEOL) || self.is(c, VEOL2) {
                if self.lflag(ECHO) {
                    self.echo_char(c, echo);
                }
                return self.end_line(Some(c), r);
            }
        }
        self.put(c, echo, r);
    }

    /// An ordinary input byte: echoed and queued.
    fn put(&mut self, c: u8, echo: &mut Vec<u8>, r: &mut Received) {
        if self.held() >= BUF_SIZE - 1 {
            return;
        }
        if self.lflag(ECHO) {
            if self.canonical() && self.edit.is_empty() {
                self.canon_column = self.column;
            }
            self.echo_char(c, echo);
        }
        if self.canonical() {
            self.edit.push(c);
        } else {
            self.ready.push_back(c);
            r.readable = true;
        }
    }

    /// Completes the line being typed, with its terminator `end` (none for VEOF).
    fn end_line(&mut self, end: Option<u8>, r: &mut Received) {
        if let Some(c) = end {
            if self.held() >= BUF_SIZE - 1 {
                // The last byte gives way to the line end (n_tty's overflow rule).
                self.edit.pop();
            }
            self.edit.push(c);
        }
        self.lines.push_back(self.edit.len());
        self.ready.extend(self.edit.drain(..));
        r.readable = true;
    }

    /// Echoes an input byte: a control character as `^X` with ECHOCTL (tabs as they are).
    fn echo_char(&mut self, c: u8, echo: &mut Vec<u8>) {
        if self.lflag(ECHOCTL) && is_cntrl(c) && c != b'\t' {
            echo.push(b'^');
            echo.push(c ^ 0x40);
            self.column += 2;
        } else {
            self.opost_byte(c, echo);
        }
    }

    /// ERASE, WERASE and KILL on the line being typed (Linux's eraser).
    fn erase(&mut self, kind: Erase, echo: &mut Vec<u8>) {
        if self.edit.is_empty() {
            return;
        }
        let on = self.lflag(ECHO);
        if kind == Erase::Line
            && (!on || !self.lflag(ECHOK) || !self.lflag(ECHOKE) || !self.lflag(ECHOE))
        {
            self.edit.clear();
            if on {
                self.echo_char(self.termios.c_cc[VKILL], echo);
                if self.lflag(ECHOK) {
                    self.opost_byte(b'\n', echo);
                }
            }
            return;
        }
        let mut seen_alnums = 0;
        while let Some(&last) = self.edit.last() {
            // One character, all of its UTF-8 bytes.
            let mut start = self.edit.len() - 1;
            let mut c = last;
            while self.is_continuation(c) && start > 0 {
                start -= 1;
                c = self.edit[start];
            }
            if self.is_continuation(c) {
                break;
            }
            if kind == Erase::Word {
                if c.is_ascii_alphanumeric() || c == b'_' {
                    seen_alnums += 1;
                } else if seen_alnums > 0 {
                    break;
                }
            }
            self.edit.truncate(start);
            if on {
                if kind == Erase::Char && !self.lflag(ECHOE) {
                    self.echo_char(self.termios.c_cc[VERASE], echo);
                } else if c == b'\t' {
                    let back = self.column.saturating_sub(self.line_column());
                    for _ in 0..back {
                        self.opost_byte(b'\x08', echo);
                    }
                } else {
                    let ctl = self.lflag(ECHOCTL);
                    let rubs = match (is_cntrl(c), ctl) {
                        (true, true) => 2,
                        (true, false) => 0,
                        _ => 1,
                    };
                    for _ in 0..rubs {
                        for b in *b"\x08 \x08" {
                            self.opost_byte(b, echo);
                        }
                    }
                }
            }
            if kind == Erase::Char {
                break;
            }
        }
    }

    /// The column at the end of the line being typed, as it was echoed.
    fn line_column(&self) -> usize {
        let ctl = self.lflag(ECHOCTL);
        self.edit.iter().fold(self.canon_column, |col, &c| match c {
            b'\t' => (col | 7) + 1,
            c if is_cntrl(c) && ctl => col + 2,
            c if is_cntrl(c) || self.is_continuation(c) => col,
            _ => col + 1,
        })
    }

    /// Output processing of one byte (Linux's do_output_char), into `out`.
    fn opost_byte(&mut self, mut c: u8, out: &mut Vec<u8>) {
        if !self.oflag(OPOST) {
            out.push(c);
            return;
        }
        match c {
            b'\n' => {
                if self.oflag(ONLRET) {
                    self.column = 0;
                }
                if self.oflag(ONLCR) {
                    self.column = 0;
                    self.canon_column = 0;
                    out.extend_from_slice(b"\r\n");
                    return;
                }
                self.canon_column = self.column;
            }
            b'\r' => {
                if self.oflag(ONOCR) && self.column == 0 {
                    return;
                }
                if self.oflag(OCRNL) {
                    c = b'\n';
                    if self.oflag(ONLRET) {
                        self.column = 0;
                        self.canon_column = 0;
                    }
                } else {
                    self.column = 0;
                    self.canon_column = 0;
                }
            }
            b'\t' => {
                let spaces = 8 - (self.column & 7);
                self.column += spaces;
                if self.termios.c_oflag & TABDLY == XTABS {
                    out.extend(core::iter::repeat_n(b' ', spaces));
                    return;
                }
            }
            b'\x08' => self.column = self.column.saturating_sub(1),
            _ => {
                if !is_cntrl(c) {
                    if self.oflag(OLCUC) {
                        c = c.to_ascii_uppercase();
                    }
                    if !self.is_continuation(c) {
                        self.column += 1;
                    }
                }
            }
        }
        out.push(c);
    }

    /// Output processing of what a program writes (OPOST and its flags), appended to `out`.
    pub fn output(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.oflag(OPOST) {
            out.extend_from_slice(data);
            return;
        }
        out.reserve(data.len());
        for &c in data {
            self.opost_byte(c, out);
        }
    }
}
