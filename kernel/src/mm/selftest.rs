//! `coracle.selftest=cow`: checks the address-space machinery processes rely on, before any
//! program runs: a fork shares private pages copy-on-write (both sides read the same bytes, a
//! write in one copies the page and leaves the other's alone, the last holder takes a page
//! over without a copy), shared pages stay shared, and dropping both spaces gives back every
//! frame. The result is one log line, `cow: ok` (or the failed check, and a kernel failure).

use alloc::vec::Vec;

use coracle_syscalls::Perms;

use super::frame;
use super::paging::AddressSpace;
use super::user;
use crate::{fatal, log};

const PAGE_A: u64 = 0x0200_0000_0000;
const PAGE_B: u64 = PAGE_A + 0x1000;
const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};

fn read(space: &AddressSpace, va: u64) -> u64 {
    space.activate();
    let mut b = [0u8; 8];
    if user::read(va, &mut b).is_err() {
        fatal(format_args!("cow: cannot read {va:#x}"));
    }
    u64::from_le_bytes(b)
}

fn write(space: &AddressSpace, va: u64, v: u64) -> bool {
    space.activate();
    user::write(va, &v.to_le_bytes()).is_ok()
}

fn check(ok: bool, what: &str) {
    if !ok {
        fatal(format_args!("cow: FAILED: {what}"));
    }
}

/// Runs the checks, on the boot CPU only, then goes back to the boot space.
pub fn cow() {
    let boot = super::paging::boot_space();
    let (_, free_before) = frame::stats();
    {
        let parent = AddressSpace::new().unwrap_or_else(|_| fatal(format_args!("cow: no memory")));
        check(
            parent.map_copy(PAGE_A, &1u64.to_le_bytes(), RW).is_ok(),
            "map A",
        );
        check(
            parent.map_copy(PAGE_B, &7u64.to_le_bytes(), RW).is_ok(),
            "map B",
        );
        let child = parent
            .fork()
            .unwrap_or_else(|_| fatal(format_args!("cow: fork failed")));
        check(
            read(&child, PAGE_A) == 1,
            "the child reads the parent's bytes",
        );
        check(
            !write(&child, PAGE_A, 2),
            "a shared page is read-only after fork",
        );
        check(child.make_writable(PAGE_A, RW).is_ok(), "copy on write");
        check(write(&child, PAGE_A, 2), "the copy is writable");
        check(read(&child, PAGE_A) == 2, "the child sees its write");
        check(read(&parent, PAGE_A) == 1, "the parent keeps its page");
        // The parent is the last holder of A's old frame: it takes it over, no copy.
        let (_, before) = frame::stats();
        check(parent.make_writable(PAGE_A, RW).is_ok(), "take over");
        let (_, after) = frame::stats();
        check(before == after, "taking over allocates nothing");
        check(
            write(&parent, PAGE_A, 3) && read(&child, PAGE_A) == 2,
            "spaces are apart",
        );
        check(
            read(&child, PAGE_B) == 7 && read(&parent, PAGE_B) == 7,
            "B is still shared",
        );
        boot.activate();
        drop(Vec::from([child, parent]));
    }
    boot.activate();
    super::tlb::reclaim();
    let (_, free_after) = frame::stats();
    check(
        free_before == free_after,
        "dropping both spaces frees every frame",
    );
    log!("cow: ok");
}
