//! Fuzzes the line discipline as a terminal sees it: any mix of typed bytes (control
//! characters, escape sequences, invalid UTF-8, bursts past the queue's size), settings
//! (random termios, modes switched mid-line), reads of any size and program output. It never
//! panics, never holds more than its queue's size, never reads more than asked, and a read
//! that says data is there returns some.
#![no_main]

use coracle_abi::termios::Termios;
use coracle_abi::FromBytes;
use coracle_syscalls::tty::ldisc::{Ldisc, BUF_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut l = Ldisc::default();
    let mut rest = data;
    let mut echo = Vec::new();
    let mut out = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let len = rest.first().map_or(0, |&n| usize::from(n) * 37);
        rest = rest.get(1..).unwrap_or(&[]);
        let take = len.min(rest.len());
        let (arg, tail) = rest.split_at(take);
        match op % 6 {
            0 | 1 => {
                // A burst of typed bytes, repeated to pass the queue's size.
                let times = if op & 0x80 != 0 { 8 } else { 1 };
                for _ in 0..times {
                    echo.clear();
                    let r = l.receive(arg, &mut echo);
                    assert!(r.consumed <= arg.len());
                    assert!(echo.len() <= arg.len() * 8 + 8 * BUF_SIZE);
                }
                rest = tail;
            }
            2 => {
                let ready = l.has_input();
                let mut buf = vec![0u8; len % 5000];
                match l.read(&mut buf) {
                    Some(n) => {
                        assert!(ready);
                        assert!(n <= buf.len());
                    }
                    None => assert!(!ready),
                }
            }
            3 => {
                if let Ok((t, _)) = Termios::read_from_prefix(arg) {
                    l.set_termios(t);
                }
                rest = tail;
            }
            4 => {
                out.clear();
                l.output(arg, &mut out);
                assert!(out.len() <= arg.len() * 8);
                rest = tail;
            }
            _ => l.flush_input(),
        }
        assert!(l.readable_bytes() < BUF_SIZE);
    }
});
