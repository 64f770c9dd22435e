//! Comparing a host run with a `coracle run`, and saying in one line where they first differ.
//!
//! Output is compared byte for byte; the message shows a short escaped window around the first
//! differing byte, plus a hex dump of it when the bytes are not plain text.

use crate::status;

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) status: i32,
}

/// Bytes shown before the first difference.
const BEFORE: usize = 16;
/// Bytes shown from the first difference on.
const AFTER: usize = 32;

/// `None` when the runs agree, else what differs: status first, then stdout, then stderr (only
/// when `with_stderr`).
pub(crate) fn compare(expected: &Observed, got: &Observed, with_stderr: bool) -> Option<String> {
    let mut parts = Vec::new();
    if expected.status != got.status {
        parts.push(format!(
            "status: expected {}, got {}",
            status::describe(expected.status),
            status::describe(got.status)
        ));
    }
    parts.extend(bytes_difference("stdout", &expected.stdout, &got.stdout));
    if with_stderr {
        parts.extend(bytes_difference("stderr", &expected.stderr, &got.stderr));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Where `got` first departs from `expected`, or `None` when they are equal.
pub(crate) fn bytes_difference(what: &str, expected: &[u8], got: &[u8]) -> Option<String> {
    let at = first_difference(expected, got)?;
    let start = at.saturating_sub(BEFORE);
    let (want, have) = (window(expected, start), window(got, start));
    let mut message = format!(
        "{what} differs at byte {at} (expected {} bytes, got {}): expected {}, got {}",
        expected.len(),
        got.len(),
        quote(expected, start),
        quote(got, start),
    );
    if !is_text(want) || !is_text(have) {
        message.push_str(&format!(
            " [hex from byte {start}: expected {}; got {}]",
            hex(want),
            hex(have)
        ));
    }
    Some(message)
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(at) => Some(at),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

fn window(bytes: &[u8], start: usize) -> &[u8] {
    let start = start.min(bytes.len());
    let end = (start + BEFORE + AFTER).min(bytes.len());
    &bytes[start..end]
}

/// The window as an escaped string literal with `…` where it was cut.
fn quote(bytes: &[u8], start: usize) -> String {
    let shown = window(bytes, start);
    if bytes.is_empty() {
        return "nothing".to_string();
    }
    let head = if start > 0 && start <= bytes.len() {
        "…"
    } else {
        ""
    };
    let cut = start.min(bytes.len()) + shown.len() < bytes.len();
    let tail = if cut { "…" } else { "" };
    if shown.is_empty() {
        return format!("{head}(end)");
    }
    format!("{head}\"{}\"{tail}", shown.escape_ascii())
}

fn is_text(bytes: &[u8]) -> bool {
    // Non-ASCII UTF-8 is text too; escape_ascii makes it readable enough.
    std::str::from_utf8(bytes)
        .is_ok_and(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'))
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(end)".to_string();
    }
    let pairs: Vec<String> = bytes.iter().take(24).map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stdout: &[u8], stderr: &[u8], status: i32) -> Observed {
        Observed {
            stdout: stdout.to_vec(),
            stderr: stderr.to_vec(),
            status,
        }
    }

    #[test]
    fn equal_runs_agree() {
        let a = run(b"hi\n", b"warn\n", 0);
        assert_eq!(compare(&a, &a.clone(), true), None);
    }

    #[test]
    fn stderr_counts_only_when_asked() {
        let (a, b) = (run(b"x", b"one", 0), run(b"x", b"two", 0));
        assert_eq!(compare(&a, &b, false), None);
        assert_eq!(
            compare(&a, &b, true).unwrap(),
            "stderr differs at byte 0 (expected 3 bytes, got 3): expected \"one\", got \"two\""
        );
    }

    #[test]
    fn status_comes_first_and_names_signals() {
        let message = compare(&run(b"", b"", 139), &run(b"a", b"", 125), true).unwrap();
        assert_eq!(
            message,
            "status: expected 139 (SIGSEGV), got 125; stdout differs at byte 0 (expected 0 \
             bytes, got 1): expected nothing, got \"a\""
        );
    }

    #[test]
    fn window_around_a_late_difference() {
        let expected = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut got = expected.to_vec();
        got[20] = b'!';
        let message = bytes_difference("stdout", expected, &got).unwrap();
        assert_eq!(
            message,
            "stdout differs at byte 20 (expected 72 bytes, got 72): \
             expected …\"456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF\"…, \
             got …\"456789abcdefghij!lmnopqrstuvwxyz0123456789ABCDEF\"…"
        );
    }

    #[test]
    fn truncated_output() {
        let message = bytes_difference("stdout", b"hello world\n", b"hello").unwrap();
        assert_eq!(
            message,
            "stdout differs at byte 5 (expected 12 bytes, got 5): expected \"hello world\\n\", \
             got \"hello\""
        );
        let long: Vec<u8> = b"x".repeat(100);
        let message = bytes_difference("stdout", &long, &long[..50]).unwrap();
        assert!(
            message.contains("got …(end)") || message.contains("got …\"xxxxxxxxxxxxxxxx\""),
            "{message}"
        );
    }

    #[test]
    fn binary_gets_hex() {
        let message = bytes_difference("stdout", b"\x00\xff\x0a", b"\x00\xfe\x0a").unwrap();
        assert_eq!(
            message,
            "stdout differs at byte 1 (expected 3 bytes, got 3): expected \"\\x00\\xff\\n\", \
             got \"\\x00\\xfe\\n\" [hex from byte 0: expected 00 ff 0a; got 00 fe 0a]"
        );
    }

    #[test]
    fn utf8_is_text() {
        let message = bytes_difference("stdout", "é1".as_bytes(), "é2".as_bytes()).unwrap();
        assert!(!message.contains("hex"), "{message}");
    }
}
