//! The x86_64 signal frame (Linux's `struct rt_sigframe`), rt_sigreturn and sigaltstack.
//!
//! A handler starts with its stack pointer at the frame: the return address (sa_restorer),
//! a `struct ucontext` whose `uc_mcontext` is the interrupted registers in Linux's
//! `struct sigcontext` order, a `siginfo_t`, and above them, 64-byte aligned, the FP state in
//! the CPU's XSAVE (or FXSAVE) format with the `_fpx_sw_bytes` marker that glibc, musl and Go
//! look for. rt_sigreturn reads it all back, checking what could make the CPU fault.

use alloc::vec::Vec;

use super::*;
use crate::regs::{FpuLayout, UserRegs, TRAP_SIGRETURN};
use crate::{Platform, SysResult};

/// The end of the user half: handlers and return addresses must be below it.
pub(crate) const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// The size of `struct rt_sigframe` and where its parts are.
pub const FRAME_SIZE: u64 = 440;
pub const FRAME_UC: u64 = 8;
pub const FRAME_INFO: u64 = 312;

/// `struct ucontext`.
pub mod uc {
    pub const FLAGS: usize = 0;
    pub const LINK: usize = 8;
    /// `stack_t`: ss_sp, ss_flags (int), ss_size.
    pub const STACK: usize = 16;
    pub const MCONTEXT: usize = 40;
    pub const SIGMASK: usize = 296;
    pub const SIZE: usize = 304;
}

/// `struct sigcontext` (the 64-bit one), offsets from `uc_mcontext`.
pub mod sc {
    pub const R8: usize = 0;
    pub const R9: usize = 8;
    pub const R10: usize = 16;
    pub const R11: usize = 24;
    pub const R12: usize = 32;
    pub const R13: usize = 40;
    pub const R14: usize = 48;
    pub const R15: usize = 56;
    pub const RDI: usize = 64;
    pub const RSI: usize = 72;
    pub const RBP: usize = 80;
    pub const RBX: usize = 88;
    pub const RDX: usize = 96;
    pub const RAX: usize = 104;
    pub const RCX: usize = 112;
    pub const RSP: usize = 120;
    pub const RIP: usize = 128;
    pub const EFLAGS: usize = 136;
    pub const CS: usize = 144;
    pub const GS: usize = 146;
    pub const FS: usize = 148;
    pub const SS: usize = 150;
    pub const ERR: usize = 152;
    pub const TRAPNO: usize = 160;
    pub const OLDMASK: usize = 168;
    pub const CR2: usize = 176;
    pub const FPSTATE: usize = 184;
    pub const SIZE: usize = 256;
}

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;
/// Linux's user code and stack selectors, which the frame shows.
const USER_CS: u16 = 0x33;
const USER_DS: u16 = 0x2b;

pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Where `struct _fpx_sw_bytes` sits in the FXSAVE image (its sw_reserved bytes).
pub const FX_SW_BYTES: usize = 464;
const FX_SIZE: usize = 512;
/// The XSAVE header follows the legacy image; a valid XSAVE image is at least this long.
const XSAVE_HEADER: usize = 512;
const XSAVE_MIN: usize = 576;
const XFEATURE_FPSSE: u64 = 3;
const MXCSR: usize = 24;

/// The flags sigreturn takes from the frame (FIX_EFLAGS: the arithmetic ones, DF, TF, AC, RF).
const FIX_EFLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;
/// Cleared for the handler: DF (the ABI wants it clear), RF and TF.
const HANDLER_CLEARS: u64 = 0x400 | 0x1_0000 | 0x100;

const MINSIGSTKSZ: u64 = 2048;

fn put64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn get64(buf: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[off..off + 8]);
    u64::from_le_bytes(b)
}

fn get32(buf: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[off..off + 4]);
    u32::from_le_bytes(b)
}

/// Bytes the FP part of a frame takes.
fn fp_frame_size(layout: &FpuLayout) -> u64 {
    match layout.xsave_size {
        0 => FX_SIZE as u64,
        n => u64::from(n) + 4,
    }
}

/// The FP part of a frame from the saved state: as the CPU wrote it, and with XSAVE the
/// software-reserved bytes (magic, sizes, features), FP and SSE marked present in the header
/// so that a handler's changes to them are loaded back, and MAGIC2 after the image.
fn fp_image(layout: &FpuLayout, area: &FpArea) -> Vec<u8> {
    if layout.xsave_size == 0 {
        return area.bytes[..FX_SIZE].to_vec();
    }
    let size = layout.xsave_size as usize;
    let mut v = Vec::with_capacity(size + 4);
    v.extend_from_slice(&area.bytes[..size]);
    v.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    let bv = get64(&v, XSAVE_HEADER) | XFEATURE_FPSSE;
    v[XSAVE_HEADER..XSAVE_MIN].fill(0);
    put64(&mut v, XSAVE_HEADER, bv);
    v[FX_SW_BYTES..FX_SIZE].fill(0);
    put32(&mut v, FX_SW_BYTES, FP_XSTATE_MAGIC1);
    put32(&mut v, FX_SW_BYTES + 4, size as u32 + 4);
    put64(&mut v, FX_SW_BYTES + 8, layout.xfeatures);
    put32(&mut v, FX_SW_BYTES + 16, size as u32);
    v
}

/// Pushes the frame of a handler for `info` with action `act` and starts the handler: on the
/// alternate stack with SA_ONSTACK, 128 bytes below the interrupted stack (its red zone)
/// otherwise, with rsp ≡ 8 (mod 16) as after a call. `mask` is the mask sigreturn restores.
/// Nothing changes when it fails (a stack overflow, a bad handler address).
pub(super) fn setup(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    info: &SigInfo,
    act: &SigAction,
    mask: u64,
) -> Result<(), &'static str> {
    if act.handler >= USER_TOP {
        return Err("the handler is not a user address");
    }
    let layout = k.fpu_layout();
    let alt = p.sig.altstack;
    let nested = alt.on(regs.rsp);
    let mut sp = regs.rsp.wrapping_sub(128);
    let mut entering = false;
    if act.flags & SA_ONSTACK != 0 && alt.state(sp) == 0 {
        sp = alt.sp.wrapping_add(alt.size);
        entering = true;
    }
    let fp_addr = sp.wrapping_sub(fp_frame_size(&layout)) & !63;
    let frame = (fp_addr.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    if (nested || entering) && !alt.contains(frame) {
        return Err("the alternate signal stack overflowed");
    }
    let fault = p.sig.fault;
    let area = p.sig.fp_scratch();
    k.save_fpu(area);
    let image = fp_image(&layout, area);
    k.write_user(fp_addr, &image)
        .map_err(|_| "the stack cannot take the FP state")?;

    let mut f = [0u8; FRAME_INFO as usize];
    put64(&mut f, 0, act.restorer);
    let u = FRAME_UC as usize;
    let uc_flags = if layout.xsave_size != 0 {
        UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    } else {
        UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    };
    put64(&mut f, u + uc::FLAGS, uc_flags);
    put64(&mut f, u + uc::STACK, alt.sp);
    put32(&mut f, u + uc::STACK + 8, alt.flags);
    put64(&mut f, u + uc::STACK + 16, alt.size);
    let m = u + uc::MCONTEXT;
    for (off, v) in [
        (sc::R8, regs.r8),
        (sc::R9, regs.r9),
        (sc::R10, regs.r10),
        (sc::R11, regs.r11),
        (sc::R12, regs.r12),
        (sc::R13, regs.r13),
        (sc::R14, regs.r14),
        (sc::R15, regs.r15),
        (sc::RDI, regs.rdi),
        (sc::RSI, regs.rsi),
        (sc::RBP, regs.rbp),
        (sc::RBX, regs.rbx),
        (sc::RDX, regs.rdx),
        (sc::RAX, regs.rax),
        (sc::RCX, regs.rcx),
        (sc::RSP, regs.rsp),
        (sc::RIP, regs.rip),
        (sc::EFLAGS, regs.rflags),
        (sc::ERR, fault.error_code),
        (sc::TRAPNO, fault.trapno),
        (sc::OLDMASK, mask),
        (sc::CR2, fault.cr2),
        (sc::FPSTATE, fp_addr),
    ] {
        put64(&mut f, m + off, v);
    }
    put16(&mut f, m + sc::CS, USER_CS);
    put16(&mut f, m + sc::SS, USER_DS);
    put64(&mut f, u + uc::SIGMASK, mask);
    k.write_user(frame, &f)
        .map_err(|_| "the stack cannot take the frame")?;
    if act.flags & SA_SIGINFO != 0 {
        k.write_user(frame + FRAME_INFO, &info.to_user())
            .map_err(|_| "the stack cannot take the frame")?;
    }

    regs.rdi = u64::from(info.signo());
    regs.rsi = frame + FRAME_INFO;
    regs.rdx = frame + FRAME_UC;
    // For handlers declared without a prototype (variadic calls count vector registers in al).
    regs.rax = 0;
    regs.rip = act.handler;
    regs.rsp = frame;
    regs.rflags &= !HANDLER_CLEARS;
    // The handler starts with clean FP registers.
    let area = p.sig.fp_scratch();
    area.reset();
    k.load_fpu(area);
    Ok(())
}

/// rt_sigreturn(2): the frame is at rsp - 8 (the handler's `ret` popped the return address).
/// Restores the registers, FP state, mask and alternate stack it holds, and returns the
/// restored rax as is. A frame that cannot be read or would make the CPU fault kills the
/// program with SIGSEGV, unless it handles it (Linux's signal_fault).
pub(crate) fn rt_sigreturn(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
) -> SysResult {
    let frame = regs.rsp.wrapping_sub(8);
    match restore(p, k, regs, frame) {
        Ok(()) => Ok(regs.rax),
        Err(why) => {
            k.log(format_args!(
                "rt_sigreturn: bad frame at {frame:#x} ({why}): SIGSEGV"
            ));
            super::deliver::force(p, SigInfo::new(SIGSEGV, SI_KERNEL), false);
            Ok(0)
        }
    }
}

fn restore(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    frame: u64,
) -> Result<(), &'static str> {
    if frame >= USER_TOP - FRAME_SIZE {
        return Err("not a user address");
    }
    let mut u = [0u8; uc::SIZE];
    k.read_user(frame + FRAME_UC, &mut u)
        .map_err(|_| "unreadable")?;
    set_mask(p, get64(&u, uc::SIGMASK));
    let g = |off: usize| get64(&u, uc::MCONTEXT + off);
    regs.r8 = g(sc::R8);
    regs.r9 = g(sc::R9);
    regs.r10 = g(sc::R10);
    regs.r11 = g(sc::R11);
    regs.r12 = g(sc::R12);
    regs.r13 = g(sc::R13);
    regs.r14 = g(sc::R14);
    regs.r15 = g(sc::R15);
    regs.rdi = g(sc::RDI);
    regs.rsi = g(sc::RSI);
    regs.rbp = g(sc::RBP);
    regs.rbx = g(sc::RBX);
    regs.rdx = g(sc::RDX);
    regs.rax = g(sc::RAX);
    regs.rcx = g(sc::RCX);
    regs.rsp = g(sc::RSP);
    regs.rip = g(sc::RIP);
    regs.rflags = (regs.rflags & !FIX_EFLAGS) | (g(sc::EFLAGS) & FIX_EFLAGS);
    // Every register came from the frame: go back with all of them, and restart nothing.
    regs.trap = TRAP_SIGRETURN;
    restore_fp(p, k, g(sc::FPSTATE))?;
    if regs.rip >= USER_TOP {
        // Linux lets the return fault; the program sees the same SIGSEGV.
        return Err("the return address is not a user address");
    }
    let ss = (
        get64(&u, uc::STACK),
        get32(&u, uc::STACK + 8),
        get64(&u, uc::STACK + 16),
    );
    // As restore_altstack: only a fault reading it matters; a refused setting is ignored.
    let _ = set_altstack(p, ss, regs.rsp);
    Ok(())
}

/// Loads the FP state of a frame (fpu__restore_sig): none (0) is the initial state; an XSAVE
/// image with valid markers is loaded as XRSTOR would, the components it leaves out
/// initialised; without the markers only the legacy FXSAVE part. What XRSTOR or FXRSTOR
/// would fault on (bad alignment, header, MXCSR) is a bad frame.
fn restore_fp(p: &mut Current, k: &mut dyn Platform, buf: u64) -> Result<(), &'static str> {
    let layout = k.fpu_layout();
    let area = p.sig.fp_scratch();
    area.reset();
    if buf == 0 {
        k.load_fpu(area);
        return Ok(());
    }
    let bad = "bad FP state";
    let mut sw = [0u8; 48];
    let mut xsave = None;
    if layout.xsave_size != 0 {
        k.read_user(buf.wrapping_add(FX_SW_BYTES as u64), &mut sw)
            .map_err(|_| bad)?;
        let size = get32(&sw, 16) as usize;
        let extended = get32(&sw, 4) as usize;
        if get32(&sw, 0) == FP_XSTATE_MAGIC1
            && size >= XSAVE_MIN
            && size <= layout.xsave_size as usize
            && size <= extended
        {
            let mut m2 = [0u8; 4];
            k.read_user(buf.wrapping_add(size as u64), &mut m2)
                .map_err(|_| bad)?;
            if u32::from_le_bytes(m2) == FP_XSTATE_MAGIC2 {
                xsave = Some((size, get64(&sw, 8)));
            }
        }
    }
    let restore_set = match xsave {
        Some((size, features)) => {
            if !buf.is_multiple_of(64) {
                return Err(bad);
            }
            k.read_user(buf, &mut area.bytes[..size]).map_err(|_| bad)?;
            let bv = get64(&area.bytes, XSAVE_HEADER);
            let header_ok = area.bytes[XSAVE_HEADER + 8..XSAVE_HEADER + 24]
                .iter()
                .all(|&b| b == 0);
            if bv & !layout.xfeatures != 0 || !header_ok {
                return Err(bad);
            }
            features & layout.xfeatures
        }
        None => {
            if !buf.is_multiple_of(16) {
                return Err(bad);
            }
            k.read_user(buf, &mut area.bytes[..FX_SIZE])
                .map_err(|_| bad)?;
            XFEATURE_FPSSE
        }
    };
    if get32(&area.bytes, MXCSR) & !layout.mxcsr_mask != 0 {
        return Err(bad);
    }
    if layout.xsave_size != 0 {
        // Components outside what the frame restores start from their initial state.
        let bv = get64(&area.bytes, XSAVE_HEADER) & restore_set;
        let bv = if xsave.is_none() { XFEATURE_FPSSE } else { bv };
        area.bytes[XSAVE_HEADER..XSAVE_MIN].fill(0);
        put64(&mut area.bytes, XSAVE_HEADER, bv);
    }
    area.bytes[FX_SW_BYTES..FX_SIZE].fill(0);
    k.load_fpu(area);
    Ok(())
}

/// Changes the alternate stack to `(ss_sp, ss_flags, ss_size)` for code running at `sp`
/// (do_sigaltstack): EPERM while on it, EINVAL for unknown flags, ENOMEM below MINSIGSTKSZ.
fn set_altstack(
    p: &mut Current,
    (ss_sp, flags, size): (u64, u32, u64),
    sp: u64,
) -> Result<(), Errno> {
    let cur = p.sig.altstack;
    if cur.on(sp) {
        return Err(Errno::EPERM);
    }
    let mode = flags & !SS_AUTODISARM;
    if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    if cur.sp == ss_sp && cur.size == size && cur.flags == flags {
        return Ok(());
    }
    let (ss_sp, size) = if mode == SS_DISABLE {
        (0, 0)
    } else if size < MINSIGSTKSZ {
        return Err(Errno::ENOMEM);
    } else {
        (ss_sp, size)
    };
    p.sig.altstack = AltStack {
        sp: ss_sp,
        size,
        flags,
    };
    Ok(())
}

/// sigaltstack(2); the caller's stack pointer decides whether it runs on the stack.
pub(crate) fn sigaltstack(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    ss: u64,
    old: u64,
) -> SysResult {
    let sp = regs.rsp;
    let cur = p.sig.altstack;
    let mut before = [0u8; 24];
    put64(&mut before, 0, cur.sp);
    put32(&mut before, 8, cur.state(sp) | (cur.flags & SS_AUTODISARM));
    put64(&mut before, 16, cur.size);
    if ss != 0 {
        let mut raw = [0u8; 24];
        k.read_user(ss, &mut raw)?;
        set_altstack(p, (get64(&raw, 0), get32(&raw, 8), get64(&raw, 16)), sp)?;
    }
    if old != 0 {
        k.write_user(old, &before)?;
    }
    Ok(0)
}
