//! Copies between kernel and user memory that turn a bad user address into an error.
//!
//! The copy is a single `rep movsb`. If it faults, the page-fault handler sees the fault's RIP
//! on that instruction and resumes at the fixup instead (see `fault::kernel_trap`), which returns
//! how many bytes were left. The atomic compare-and-exchange of a user word (futexes) is one
//! `lock cmpxchg` with its own fixup. The range check in `mm::user` keeps kernel addresses out before
//! any copy starts, so a fault here can only be a user address that is not mapped (or, for
//! writes, not writable).

use core::arch::global_asm;

extern "C" {
    /// Copies `len` bytes; returns the number of bytes NOT copied (0 on success).
    fn coracle_copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static coracle_copy_user_insn: u8;
    static coracle_copy_user_fixup: u8;
    /// Compares the u32 at `addr` with `expected` and stores `new` there if equal, atomically;
    /// writes the value it held to `old`. Returns 0, or 1 if the user page faulted.
    fn coracle_cmpxchg_user(addr: *mut u32, expected: u32, new: u32, old: *mut u32) -> u32;
    static coracle_cmpxchg_user_insn: u8;
    static coracle_cmpxchg_user_fixup: u8;
}

global_asm!(
    r#"
    .section .text.coracle_copy_user, "ax"
    .global coracle_copy_user
    .global coracle_copy_user_insn
    .global coracle_copy_user_fixup
coracle_copy_user:
    mov rcx, rdx
coracle_copy_user_insn:
    rep movsb
    xor eax, eax
    ret
coracle_copy_user_fixup:
    mov rax, rcx
    ret

    .section .text.coracle_cmpxchg_user, "ax"
    .global coracle_cmpxchg_user
    .global coracle_cmpxchg_user_insn
    .global coracle_cmpxchg_user_fixup
coracle_cmpxchg_user:
    mov eax, esi
coracle_cmpxchg_user_insn:
    lock cmpxchg dword ptr [rdi], edx
    mov dword ptr [rcx], eax
    xor eax, eax
    ret
coracle_cmpxchg_user_fixup:
    mov eax, 1
    ret
"#
);

/// If `rip` is a faulting user-access instruction, the address to resume at instead.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let pairs = [
        (
            core::ptr::addr_of!(coracle_copy_user_insn),
            core::ptr::addr_of!(coracle_copy_user_fixup),
        ),
        (
            core::ptr::addr_of!(coracle_cmpxchg_user_insn),
            core::ptr::addr_of!(coracle_cmpxchg_user_fixup),
        ),
    ];
    pairs
        .iter()
        .find(|(insn, _)| *insn as u64 == rip)
        .map(|(_, fixup)| *fixup as u64)
}

/// Atomically replaces the u32 at user address `addr` (checked to lie in the user half) with
/// `new` if it holds `expected`; returns the value it held, `Err(())` if the page was missing or
/// not writable.
pub fn cmpxchg_u32(addr: u64, expected: u32, new: u32) -> Result<u32, ()> {
    let mut old = 0u32;
    // SAFETY: `old` is a valid kernel u32; the user address was range-checked by the caller,
    // and a fault on it is caught by the fixup and reported as 1.
    let faulted = unsafe { coracle_cmpxchg_user(addr as *mut u32, expected, new, &mut old) };
    if faulted == 0 {
        Ok(old)
    } else {
        Err(())
    }
}

/// Copies `len` bytes from `src` to `dst`, where one side is user memory already checked to lie
/// in the user half. Returns `Err(())` if a user page was missing or not writable.
///
/// # Safety
/// The kernel side of the copy (`dst` for reads from user, `src` for writes to user) must be
/// valid for `len` bytes.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), ()> {
    // SAFETY: the caller guarantees the kernel side; a fault on the user side is caught by the
    // fixup and reported as bytes not copied.
    let left = unsafe { coracle_copy_user(dst, src, len) };
    if left == 0 {
        Ok(())
    } else {
        Err(())
    }
}
