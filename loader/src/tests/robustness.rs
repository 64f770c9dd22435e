//! Hostile inputs: every truncation and many corruptions of valid images must give `Ok` or a
//! clean `Err`, never a panic; whatever is accepted must satisfy the plan's invariants.

use alloc::vec::Vec;

use super::builder::{exec_image, pie_image};
use crate::{Executable, LoadPlan, MMAP_MIN_ADDR, PAGE_SIZE, USER_TOP};

/// What the kernel relies on when it follows a plan.
fn check_invariants(plan: &LoadPlan, file_len: u64) {
    let mut prev_end = MMAP_MIN_ADDR;
    for r in &plan.regions {
        assert_eq!(r.start % PAGE_SIZE, 0, "{plan:?}");
        assert_eq!(r.end % PAGE_SIZE, 0, "{plan:?}");
        assert!(
            prev_end <= r.start && r.start < r.end && r.end <= USER_TOP,
            "{plan:?}"
        );
        prev_end = r.end;
    }
    for c in &plan.copies {
        assert!(
            c.file_offset.checked_add(c.len).unwrap() <= file_len,
            "{plan:?}"
        );
        let end = c.vaddr.checked_add(c.len).unwrap();
        assert!(
            plan.regions
                .iter()
                .any(|r| r.start <= c.vaddr && end <= r.end),
            "{plan:?}"
        );
    }
    assert!(plan
        .regions
        .iter()
        .any(|r| r.start <= plan.entry && plan.entry < r.end));
    assert!(plan.brk <= USER_TOP && plan.brk.is_multiple_of(PAGE_SIZE));
}

fn parse_and_check(f: &[u8]) {
    if let Ok(exe) = Executable::parse(f) {
        check_invariants(&exe.plan(), f.len() as u64);
    }
}

#[test]
fn every_truncation_is_handled() {
    for image in [exec_image(), pie_image()] {
        for len in 0..=image.len() {
            parse_and_check(&image[..len]);
        }
    }
}

#[test]
fn every_byte_flip_in_the_headers_is_handled() {
    for image in [exec_image(), pie_image()] {
        // The ELF header and the program header table, where all the parsed fields are.
        for i in 0..image.len().min(64 + 56 * 5) {
            for v in [
                0x00,
                0xff,
                0x80,
                0x7f,
                0x01,
                image[i] ^ 0x01,
                image[i] ^ 0x10,
            ] {
                let mut f = image.clone();
                f[i] = v;
                parse_and_check(&f);
            }
        }
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_multi_field_corruption_is_handled() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let interesting: [u64; 8] = [
        0,
        1,
        0xfff,
        0x1000,
        USER_TOP,
        u64::MAX,
        u64::MAX - 0xfff,
        1 << 63,
    ];
    for image in [exec_image(), pie_image()] {
        for _ in 0..20_000 {
            let mut f: Vec<u8> = image.clone();
            for _ in 0..(1 + rng.next() % 4) {
                // Overwrite an aligned 8-byte word in the headers with an edge value, or a
                // single byte anywhere with noise.
                let r = rng.next();
                if r.is_multiple_of(2) {
                    let at = (rng.next() % ((64 + 56 * 5) / 8)) as usize * 8;
                    let v = interesting[(rng.next() % 8) as usize];
                    f[at..at + 8].copy_from_slice(&v.to_le_bytes());
                } else {
                    let at = (rng.next() % f.len() as u64) as usize;
                    f[at] = rng.next() as u8;
                }
            }
            let cut = if rng.next().is_multiple_of(8) {
                (rng.next() % f.len() as u64) as usize
            } else {
                f.len()
            };
            parse_and_check(&f[..cut]);
        }
    }
}
