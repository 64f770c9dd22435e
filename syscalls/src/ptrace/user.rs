//! The tracee's registers as ptrace shows them: `struct user_regs_struct` (GETREGS, SETREGS,
//! the NT_PRSTATUS set), single words of `struct user` (PEEKUSER, POKEUSER), the FXSAVE image
//! (GETFPREGS, NT_PRFPREG) and the XSAVE one (NT_X86_XSTATE), with the checks Linux's
//! `putreg` makes on what a tracer writes.

use coracle_abi::ptrace::{UserRegsStruct, USER_DEBUGREG_OFFSET, USER_FPREGS_SIZE, USER_SIZE};
use coracle_abi::{FromBytes, IntoBytes};

use super::{debug, State};
use crate::regs::FpuLayout;
use crate::Errno;

/// The selectors a 64-bit program runs with on Linux (as signal frames show them).
const USER_CS: u64 = 0x33;
const USER_SS: u64 = 0x2b;
/// The RFLAGS bits a tracer may change (Linux's FLAG_MASK).
const FLAG_MASK: u64 = 0x54dd5;
/// Addresses from here on are not user addresses (TASK_SIZE_MAX).
const TASK_SIZE_MAX: u64 = 0x7fff_ffff_f000;
/// Where XSAVE's software-reserved bytes are; ptrace puts XCR0 there.
const XSAVE_SW_RESERVED: usize = 464;

/// The stopped tracee's registers.
pub(super) fn get(st: &State) -> UserRegsStruct {
    let r = &st.regs;
    UserRegsStruct {
        r15: r.r15,
        r14: r.r14,
        r13: r.r13,
        r12: r.r12,
        rbp: r.rbp,
        rbx: r.rbx,
        r11: r.r11,
        r10: r.r10,
        r9: r.r9,
        r8: r.r8,
        rax: r.rax,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        orig_rax: st.orig_rax,
        rip: r.rip,
        cs: USER_CS,
        eflags: r.rflags,
        rsp: r.rsp,
        ss: USER_SS,
        fs_base: r.fs_base,
        gs_base: r.gs_base,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
    }
}

/// Sets the registers (all or none: every value is checked first). `EIO` for a value Linux
/// refuses: a segment other than the ones the program runs with, a base outside user space.
pub(super) fn set(st: &mut State, u: &UserRegsStruct) -> Result<(), Errno> {
    let segs_ok =
        u.cs == USER_CS && u.ss == USER_SS && [u.ds, u.es, u.fs, u.gs].iter().all(|&s| s == 0);
    if !segs_ok || u.fs_base >= TASK_SIZE_MAX || u.gs_base >= TASK_SIZE_MAX {
        return Err(Errno::EIO);
    }
    let r = &mut st.regs;
    r.r15 = u.r15;
    r.r14 = u.r14;
    r.r13 = u.r13;
    r.r12 = u.r12;
    r.rbp = u.rbp;
    r.rbx = u.rbx;
    r.r11 = u.r11;
    r.r10 = u.r10;
    r.r9 = u.r9;
    r.r8 = u.r8;
    r.rax = u.rax;
    r.rcx = u.rcx;
    r.rdx = u.rdx;
    r.rsi = u.rsi;
    r.rdi = u.rdi;
    r.rip = u.rip;
    r.rflags = (r.rflags & !FLAG_MASK) | (u.eflags & FLAG_MASK);
    r.rsp = u.rsp;
    r.fs_base = u.fs_base;
    r.gs_base = u.gs_base;
    st.orig_rax = u.orig_rax;
    st.regs_dirty = true;
    Ok(())
}

/// PTRACE_PEEKUSER: the word at `offset` in `struct user` (registers, debug registers; the
/// rest reads 0). `EIO` for a misaligned or out-of-range offset.
pub(super) fn peek(st: &State, offset: u64) -> Result<u64, Errno> {
    if !offset.is_multiple_of(8) || offset >= USER_SIZE {
        return Err(Errno::EIO);
    }
    let regs = get(st);
    let bytes = regs.as_bytes();
    let at = offset as usize;
    if at < bytes.len() {
        return u64::read_from_bytes(&bytes[at..at + 8]).map_err(|_| Errno::EIO);
    }
    if let Some(n) = debugreg(offset) {
        return Ok(debug::peek(&st.debug, n));
    }
    // The rest of the struct reads as 0, as on Linux.
    Ok(0)
}

/// The debug register at `offset` of `struct user`, if it is one.
fn debugreg(offset: u64) -> Option<usize> {
    let end = USER_DEBUGREG_OFFSET + 64;
    (USER_DEBUGREG_OFFSET..end)
        .contains(&offset)
        .then(|| ((offset - USER_DEBUGREG_OFFSET) / 8) as usize)
}

/// PTRACE_POKEUSER: sets one register (checked as SETREGS checks it) or a debug register
/// (checked as `debug::poke` says).
pub(super) fn poke(st: &mut State, offset: u64, value: u64) -> Result<(), Errno> {
    if !offset.is_multiple_of(8) || offset >= USER_SIZE {
        return Err(Errno::EIO);
    }
    let at = offset as usize;
    let mut regs = get(st);
    if at < size_of::<UserRegsStruct>() {
        regs.as_mut_bytes()[at..at + 8].copy_from_slice(&value.to_le_bytes());
        return set(st, &regs);
    }
    match debugreg(offset) {
        Some(n) => debug::poke(&mut st.debug, n, value),
        None => Err(Errno::EIO),
    }
}

/// The FXSAVE image (`struct user_fpregs_struct`): the legacy part of the saved area.
pub(super) fn fpregs(st: &State) -> &[u8] {
    &st.fpu.bytes[..USER_FPREGS_SIZE]
}

/// Sets the FXSAVE image; MXCSR bits the CPU refuses are cleared (Linux: `mxcsr &=
/// mxcsr_feature_mask`).
pub(super) fn set_fpregs(st: &mut State, data: &[u8], layout: FpuLayout) {
    let n = data.len().min(USER_FPREGS_SIZE);
    st.fpu.bytes[..n].copy_from_slice(&data[..n]);
    let mxcsr = u32::from_le_bytes([
        st.fpu.bytes[24],
        st.fpu.bytes[25],
        st.fpu.bytes[26],
        st.fpu.bytes[27],
    ]) & layout.mxcsr_mask;
    st.fpu.bytes[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    st.fpu_dirty = true;
}

/// The XSAVE image NT_X86_XSTATE shows: the saved area with XCR0 in the software-reserved
/// bytes; `None` on a CPU without XSAVE (`ENODEV` then, as Linux).
pub(super) fn xstate(st: &State, layout: FpuLayout) -> Option<alloc::vec::Vec<u8>> {
    let size = layout.xsave_size as usize;
    if size == 0 || size > st.fpu.bytes.len() {
        return None;
    }
    let mut v = st.fpu.bytes[..size].to_vec();
    v[XSAVE_SW_RESERVED..XSAVE_SW_RESERVED + 8].copy_from_slice(&layout.xfeatures.to_le_bytes());
    Some(v)
}

/// Where the XSAVE header is: XSTATE_BV, then XCOMP_BV, then reserved bytes, 64 in all.
const XSAVE_HEADER: usize = 512;

/// Sets the XSAVE image (NT_X86_XSTATE, `data` the CPU's XSAVE size) as Linux's
/// copy_uabi_to_xstate does: `EINVAL` for components the CPU does not save, a compacted
/// format, non-zero reserved header bytes or MXCSR bits the CPU refuses. The software-reserved
/// bytes stay as they were; components left out of XSTATE_BV load their initial state.
pub(super) fn set_xstate(st: &mut State, data: &[u8], layout: FpuLayout) -> Result<(), Errno> {
    let word = |at: usize| {
        data.get(at..at + 8)
            .and_then(|w| u64::read_from_bytes(w).ok())
            .ok_or(Errno::EINVAL)
    };
    let size = layout.xsave_size as usize;
    if data.len() != size || size > st.fpu.bytes.len() || size < XSAVE_HEADER + 64 {
        return Err(Errno::EINVAL);
    }
    let xstate_bv = word(XSAVE_HEADER)?;
    let reserved = &data[XSAVE_HEADER + 8..XSAVE_HEADER + 64];
    if xstate_bv & !layout.xfeatures != 0 || reserved.iter().any(|&b| b != 0) {
        return Err(Errno::EINVAL);
    }
    let mxcsr = u32::from_le_bytes([data[24], data[25], data[26], data[27]]);
    if mxcsr & !layout.mxcsr_mask != 0 {
        return Err(Errno::EINVAL);
    }
    st.fpu.bytes[..XSAVE_SW_RESERVED].copy_from_slice(&data[..XSAVE_SW_RESERVED]);
    st.fpu.bytes[XSAVE_HEADER..size].copy_from_slice(&data[XSAVE_HEADER..size]);
    st.fpu_dirty = true;
    Ok(())
}
