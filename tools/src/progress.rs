//! Progress bars with byte counts (indicatif) for the long steps: downloads, layers read,
//! root filesystem images and initrds written. Drawn on stderr only when it is a terminal;
//! elsewhere (pipes, logs, tests) the bars are hidden and print nothing.

use std::io::{self, IsTerminal, Seek, SeekFrom, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` bytes (a spinner with a byte count when 0), drawn only on a terminal.
pub fn bar(len: u64, message: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = if len > 0 {
        (
            ProgressBar::new(len),
            "coracle: {msg} [{bar:30}] {bytes}/{total_bytes} ({eta})",
        )
    } else {
        (
            ProgressBar::new_spinner(),
            "coracle: {msg} {spinner} {bytes}",
        )
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A writer that counts the bytes written through it on a bar (seeks are passed on and not
/// counted: the bar shows the bytes written, which for the EROFS writer is the image's size).
#[derive(Debug)]
pub struct Counted<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W> Counted<W> {
    pub fn new(inner: W, bar: ProgressBar) -> Self {
        Counted { inner, bar }
    }

    /// The writer, with the bar cleared away.
    pub fn into_inner(self) -> W {
        self.bar.finish_and_clear();
        self.inner
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Seek> Seek for Counted<W> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_written_and_is_hidden_off_a_terminal() {
        let bar = ProgressBar::hidden();
        let mut w = Counted::new(io::Cursor::new(Vec::new()), bar.clone());
        w.write_all(b"hello").unwrap();
        w.seek(SeekFrom::Start(1)).unwrap();
        w.write_all(b"EL").unwrap();
        assert_eq!(bar.position(), 7);
        assert_eq!(w.into_inner().into_inner(), b"hELlo");
        // cargo test's stderr is captured, not a terminal.
        if !io::stderr().is_terminal() {
            assert!(super::bar(10, "x").is_hidden());
        }
    }
}
