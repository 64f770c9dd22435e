//! The line discipline alone: editing, echo, signals, modes and output processing, with the
//! bytes Linux's n_tty gives for the same input on a fresh pty.

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::signal::{SIGINT, SIGQUIT, SIGTSTP};
use coracle_abi::termios::*;

use super::ldisc::{Ldisc, BUF_SIZE};

/// Types `data`, returns the echo.
fn typed(l: &mut Ldisc, data: &[u8]) -> Vec<u8> {
    let mut echo = Vec::new();
    let r = l.receive(data, &mut echo);
    assert_eq!(r.consumed, data.len());
    echo
}

fn read(l: &mut Ldisc, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0; n];
    l.read(&mut buf).map(|got| buf[..got].to_vec())
}

fn raw() -> Termios {
    let mut t = Termios::cooked();
    t.c_lflag &= !(ICANON | ECHO);
    t
}

#[test]
fn canonical_line_with_erase_and_crlf() {
    let mut l = Ldisc::default();
    assert_eq!(typed(&mut l, b"ab\x7fc"), b"ab\x08 \x08c");
    assert_eq!(read(&mut l, 10), None, "no line yet");
    assert_eq!(typed(&mut l, b"\r"), b"\r\n");
    assert_eq!(l.readable_bytes(), 3);
    assert_eq!(read(&mut l, 10).unwrap(), b"ac\n");
    assert_eq!(read(&mut l, 10), None);
}

#[test]
fn a_read_takes_at_most_one_line_and_the_rest_of_it_later() {
    let mut l = Ldisc::default();
    typed(&mut l, b"one\ntwo\n");
    assert_eq!(read(&mut l, 2).unwrap(), b"on");
    assert_eq!(read(&mut l, 10).unwrap(), b"e\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"two\n");
}

#[test]
fn eof_at_line_start_reads_zero_and_mid_line_pushes_the_line() {
    let mut l = Ldisc::default();
    assert_eq!(typed(&mut l, b"ab\x04"), b"ab");
    assert_eq!(read(&mut l, 10).unwrap(), b"ab");
    typed(&mut l, b"\x04");
    assert!(l.has_input());
    assert_eq!(read(&mut l, 10).unwrap(), b"");
    assert!(!l.has_input());
}

#[test]
fn kill_erases_the_line_visually_with_echoke() {
    let mut l = Ldisc::default();
    typed(&mut l, b"abc");
    assert_eq!(typed(&mut l, b"\x15"), b"\x08 \x08".repeat(3));
    typed(&mut l, b"x\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"x\n");
    // Without ECHOKE: the kill character, then a newline for ECHOK.
    let mut t = Termios::cooked();
    t.c_lflag &= !ECHOKE;
    let mut l = Ldisc::new(t);
    typed(&mut l, b"abc");
    assert_eq!(typed(&mut l, b"\x15"), b"^U\r\n");
}

#[test]
fn werase_takes_the_last_word_and_the_blanks_after_it() {
    let mut l = Ldisc::default();
    typed(&mut l, b"foo bar  ");
    assert_eq!(typed(&mut l, b"\x17"), b"\x08 \x08".repeat(5));
    typed(&mut l, b"\n");
    assert_eq!(read(&mut l, 20).unwrap(), b"foo \n");
}

#[test]
fn control_characters_echo_as_caret_and_erase_two_columns() {
    let mut l = Ldisc::default();
    assert_eq!(typed(&mut l, b"\x01"), b"^A");
    assert_eq!(typed(&mut l, b"\x7f"), b"\x08 \x08\x08 \x08");
}

#[test]
fn erasing_a_tab_backs_up_to_where_it_started() {
    let mut l = Ldisc::default();
    assert_eq!(typed(&mut l, b"a\t"), b"a\t");
    assert_eq!(typed(&mut l, b"\x7f"), b"\x08".repeat(7));
    assert_eq!(typed(&mut l, b"\x7f"), b"\x08 \x08");
}

#[test]
fn signal_characters_flush_echo_and_report() {
    let mut l = Ldisc::default();
    let mut echo = Vec::new();
    let r = l.receive(b"abc\x03", &mut echo);
    assert_eq!(echo, b"abc^C");
    assert_eq!(r.signals, 1 << SIGINT);
    typed(&mut l, b"\n");
    assert_eq!(
        read(&mut l, 10).unwrap(),
        b"\n",
        "the line before ^C was dropped"
    );
    let r = l.receive(b"\x1c\x1a", &mut echo);
    assert_eq!(r.signals, (1 << SIGQUIT) | (1 << SIGTSTP));
    // NOFLSH keeps the input; no ISIG makes ^C an ordinary byte.
    let mut t = Termios::cooked();
    t.c_lflag |= NOFLSH;
    let mut l = Ldisc::new(t);
    l.receive(b"ab\x03\n", &mut echo);
    assert_eq!(read(&mut l, 10).unwrap(), b"ab\n");
    t.c_lflag &= !ISIG;
    let mut l = Ldisc::new(t);
    let r = l.receive(b"\x03\n", &mut echo);
    assert_eq!(r.signals, 0);
    assert_eq!(read(&mut l, 10).unwrap(), b"\x03\n");
}

#[test]
fn lnext_quotes_the_next_character() {
    let mut l = Ldisc::default();
    let mut echo = Vec::new();
    let r = l.receive(b"\x16\x03\x16\x7f\n", &mut echo);
    assert_eq!(r.signals, 0);
    assert_eq!(echo, b"^\x08^C^\x08^?\r\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"\x03\x7f\n");
}

#[test]
fn raw_mode_gives_bytes_at_once_with_input_mapping() {
    let mut l = Ldisc::new(raw());
    assert_eq!(typed(&mut l, b"a\rb"), b"");
    assert_eq!(read(&mut l, 10).unwrap(), b"a\nb");
    let mut t = raw();
    t.c_iflag = IGNCR;
    let mut l = Ldisc::new(t);
    typed(&mut l, b"a\rb\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"ab\n");
    t.c_iflag = INLCR;
    let mut l = Ldisc::new(t);
    typed(&mut l, b"a\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"a\r");
    // ECHO without ICANON echoes control characters as ^X, newline included.
    let mut t = raw();
    t.c_lflag |= ECHO;
    let mut l = Ldisc::new(t);
    assert_eq!(typed(&mut l, b"x\r"), b"x^J");
}

#[test]
fn echonl_echoes_newlines_alone() {
    let mut t = Termios::cooked();
    t.c_lflag = (t.c_lflag & !ECHO) | ECHONL;
    let mut l = Ldisc::new(t);
    assert_eq!(typed(&mut l, b"secret\n"), b"\r\n");
}

#[test]
fn switching_modes_keeps_the_typed_bytes() {
    let mut l = Ldisc::default();
    typed(&mut l, b"part");
    l.set_termios(raw());
    assert_eq!(read(&mut l, 10).unwrap(), b"part");
    typed(&mut l, b"xy");
    l.set_termios(Termios::cooked());
    assert_eq!(read(&mut l, 10).unwrap(), b"xy");
}

#[test]
fn output_processing() {
    let mut l = Ldisc::default();
    let mut out = Vec::new();
    l.output(b"a\nb\tc", &mut out);
    assert_eq!(out, b"a\r\nb\tc");
    let mut t = Termios::cooked();
    t.c_oflag = OPOST | OCRNL | OLCUC | XTABS;
    let mut l = Ldisc::new(t);
    out.clear();
    l.output(b"ab\r\tx", &mut out);
    assert_eq!(out, b"AB\n      X");
    t.c_oflag = ONLCR;
    let mut l = Ldisc::new(t);
    out.clear();
    l.output(b"a\n", &mut out);
    assert_eq!(out, b"a\n", "no OPOST, no processing");
    t.c_oflag = OPOST | ONOCR;
    let mut l = Ldisc::new(t);
    out.clear();
    l.output(b"\rx\r", &mut out);
    assert_eq!(out, b"x\r");
}

#[test]
fn a_full_queue_stops_raw_input_and_keeps_room_for_a_line_end() {
    let mut l = Ldisc::new(raw());
    let mut echo = Vec::new();
    let r = l.receive(&[b'x'; 5000], &mut echo);
    assert_eq!(r.consumed, BUF_SIZE - 1);
    assert_eq!(l.readable_bytes(), BUF_SIZE - 1);
    let mut l = Ldisc::default();
    let r = l.receive(&[b'x'; 5000], &mut echo);
    assert_eq!(
        r.consumed, 5000,
        "canonical input with no line end is never throttled"
    );
    typed(&mut l, b"\n");
    let line = read(&mut l, 8192).unwrap();
    assert_eq!(line.len(), BUF_SIZE - 1);
    assert_eq!(line.last(), Some(&b'\n'));
}

#[test]
fn disabled_control_characters_never_match_nul() {
    let mut l = Ldisc::default();
    typed(&mut l, b"a\0b\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"a\0b\n");
}

#[test]
fn utf8_erase_takes_a_whole_character() {
    let mut t = Termios::cooked();
    t.c_iflag |= IUTF8;
    let mut l = Ldisc::new(t);
    typed(&mut l, "aé".as_bytes());
    assert_eq!(typed(&mut l, b"\x7f"), b"\x08 \x08");
    typed(&mut l, b"\n");
    assert_eq!(read(&mut l, 10).unwrap(), b"a\n");
}
