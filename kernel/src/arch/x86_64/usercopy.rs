//! Copies between kernel and user memory that turn a bad user address into an error.
//!
//! The copy is a single `rep movsb`. If it faults, the page-fault handler sees the fault's RIP
//! on that instruction and resumes at the fixup instead (see `fault::kernel_trap`), which returns
//! how many bytes were left. The range check in `mm::user` keeps kernel addresses out before
//! any copy starts, so a fault here can only be a user address that is not mapped (or, for
//! writes, not writable).

use core::arch::global_asm;

extern "C" {
    /// Copies `len` bytes; returns the number of bytes NOT copied (0 on success).
    fn coracle_copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static coracle_copy_user_insn: u8;
    static coracle_copy_user_fixup: u8;
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
"#
);

/// If `rip` is the faulting copy instruction, the address to resume at instead.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let insn = core::ptr::addr_of!(coracle_copy_user_insn) as u64;
    (rip == insn).then_some(core::ptr::addr_of!(coracle_copy_user_fixup) as u64)
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
