//! A program on a host pseudo-terminal, driven as a person at a terminal would: bytes typed,
//! output awaited (expect-style, every wait bounded), the window resized.
//!
//! portable-pty opens the pty and spawns the program as a session leader with the pty as its
//! controlling terminal; the matching is a few lines here (a reader thread appends everything
//! the terminal shows to one buffer, [`Session::expect`] waits for a string in what is new).

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

/// How long one expected output may take: a Debian VM boots in seconds under TCG, but the CI
/// machine is two slow cores shared with other suites.
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// What the terminal has shown, and whether its slave side is closed.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    closed: bool,
}

pub struct Session {
    label: String,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    shown: Arc<(Mutex<Screen>, Condvar)>,
    /// Where the next expect starts looking.
    pos: usize,
}

pub fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Session {
    /// Starts `command` on a new pty of `rows` x `cols`; `label` names it in failures.
    pub fn spawn(label: &str, command: CommandBuilder, rows: u16, cols: u16) -> Session {
        let pair = native_pty_system()
            .openpty(size(rows, cols))
            .expect("open a pty");
        let child = pair.slave.spawn_command(command).expect("spawn on the pty");
        // Only the child holds the slave now: its end is the reader's end of file.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let shown = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        let feed = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (lock, cond) = &*feed;
                let mut screen = lock.lock().unwrap();
                if n == 0 {
                    screen.closed = true;
                } else {
                    screen.bytes.extend_from_slice(&buf[..n]);
                }
                cond.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        Session {
            label: label.to_string(),
            master: pair.master,
            writer,
            child,
            shown,
            pos: 0,
        }
    }

    /// Types `bytes`.
    pub fn send(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for `pattern` in what the terminal showed since the last expect; returns that
    /// text up to and including the match. Fails, showing everything, after [`TIMEOUT`].
    pub fn expect(&mut self, pattern: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let (lock, cond) = &*self.shown;
        let mut screen = lock.lock().unwrap();
        loop {
            let new = &screen.bytes[self.pos..];
            if let Some(at) = find(new, pattern.as_bytes()) {
                let end = self.pos + at + pattern.len();
                let text = String::from_utf8_lossy(&screen.bytes[self.pos..end]).into_owned();
                self.pos = end;
                return text;
            }
            let now = Instant::now();
            if screen.closed || now >= deadline {
                let what = if screen.closed { "ended" } else { "timed out" };
                panic!(
                    "{}: {what} waiting for {pattern:?}; since the last match: {:?}",
                    self.label,
                    String::from_utf8_lossy(new)
                );
            }
            screen = cond.wait_timeout(screen, deadline - now).unwrap().0;
        }
    }

    /// Everything shown from the last expect to the program's end.
    pub fn rest(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let (lock, cond) = &*self.shown;
        let mut screen = lock.lock().unwrap();
        while !screen.closed {
            let now = Instant::now();
            assert!(
                now < deadline,
                "{}: the program did not end; since the last match: {:?}",
                self.label,
                String::from_utf8_lossy(&screen.bytes[self.pos..])
            );
            screen = cond.wait_timeout(screen, deadline - now).unwrap().0;
        }
        let text = String::from_utf8_lossy(&screen.bytes[self.pos..]).into_owned();
        self.pos = screen.bytes.len();
        text
    }

    /// Resizes the window: the kernel sends SIGWINCH to the pty's foreground group.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.master
            .resize(size(rows, cols))
            .expect("resize the pty");
    }

    /// Waits for the program's exit status, as `docker run` reports it: the code, or 128+N
    /// after death by signal N.
    pub fn wait(mut self) -> u32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the program") {
                return match status.signal() {
                    None => status.exit_code(),
                    Some(name) => 128 + signal_number(name),
                };
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("{}: the program did not exit", self.label);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The number of a signal portable-pty names by its strsignal(3) text.
fn signal_number(name: &str) -> u32 {
    let names = [
        (1, "Hangup"),
        (2, "Interrupt"),
        (3, "Quit"),
        (6, "Aborted"),
        (9, "Killed"),
        (11, "Segmentation fault"),
        (15, "Terminated"),
    ];
    names
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(number, _)| *number)
        .unwrap_or_else(|| panic!("unexpected death by signal {name:?}"))
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test must not leave its program running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
