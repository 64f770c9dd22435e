//! The x86_64 signal frame (Linux's `struct rt_sigframe`), rt_sigreturn and sigaltstack.
//!
//! A handler starts with its stack pointer at the frame: the return address (sa_restorer),
//! a `struct ucontext` whose `uc_mcontext` is the interrupted registers in Linux's
//! `struct sigcontext` order, a `siginfo_t`, and above them, 64-byte aligned, the FP state in
//! the CPU's XSAVE (or FXSAVE) format with the `_fpx_sw_bytes` marker that glibc, musl and Go
//! look for. rt_sigreturn reads it all back, checking what could make the CPU fault.
//!
//! The layouts (`RtSigframe`, `UContext`, `SigContext`, `StackT`, `FpxSwBytes`, the XSAVE
//! header) are the typed structs of `coracle_abi::signal`; this module only fills and checks them.

use alloc::vec::Vec;
use core::mem::offset_of;

use coracle_abi::{FromBytes, IntoBytes};

use super::*;
use crate::regs::{FpuLayout, UserRegs, TRAP_SIGRETURN};
use crate::uaccess::{read_struct, write_struct};
use crate::{Platform, SysResult};

/// The end of the user half: handlers and return addresses must be below it.
pub(crate) const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// The size of `struct rt_sigframe` and where its parts are.
pub const FRAME_SIZE: u64 = size_of::<RtSigframe>() as u64;
pub const FRAME_UC: u64 = offset_of!(RtSigframe, uc) as u64;
pub const FRAME_INFO: u64 = offset_of!(RtSigframe, info) as u64;

/// Linux's user code and stack selectors, which the frame shows.
const USER_CS: u16 = 0x33;
const USER_DS: u16 = 0x2b;

/// Where `struct _fpx_sw_bytes` sits in the FXSAVE image (its sw_reserved bytes).
pub const FX_SW_BYTES: usize = offset_of!(FpState64, sw_reserved);
const FX_SIZE: usize = size_of::<FpState64>();
/// A valid XSAVE image holds at least the legacy image and the XSAVE header.
const XSAVE_MIN: usize = size_of::<XStateHead>();
const XFEATURE_FPSSE: u64 = 3;

/// The flags sigreturn takes from the frame (FIX_EFLAGS: the arithmetic ones, DF, TF, AC, RF).
const FIX_EFLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;
/// Cleared for the handler: DF (the ABI wants it clear), RF and TF.
const HANDLER_CLEARS: u64 = 0x400 | 0x1_0000 | 0x100;

const MINSIGSTKSZ: u64 = 2048;

/// The legacy image and XSAVE header at the start of an FP image (`what` names the failure).
fn head(image: &[u8], what: &'static str) -> Result<XStateHead, &'static str> {
    XStateHead::read_from_prefix(image)
        .map(|(h, _)| h)
        .map_err(|_| what)
}

/// Writes back what [`head`] read.
fn set_head(image: &mut [u8], h: &XStateHead, what: &'static str) -> Result<(), &'static str> {
    h.write_to_prefix(image).map_err(|_| what)
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
fn fp_image(layout: &FpuLayout, area: &FpArea) -> Result<Vec<u8>, &'static str> {
    if layout.xsave_size == 0 {
        return Ok(area.bytes[..FX_SIZE].to_vec());
    }
    let size = layout.xsave_size as usize;
    let mut v = Vec::with_capacity(size + 4);
    v.extend_from_slice(&area.bytes[..size]);
    v.extend_from_slice(FP_XSTATE_MAGIC2.as_bytes());
    let short = "the XSAVE image is too small";
    let mut h = head(&v, short)?;
    h.header = XStateHeader {
        xfeatures: h.header.xfeatures | XFEATURE_FPSSE,
        ..XStateHeader::default()
    };
    h.fpstate.sw_reserved = FpxSwBytes {
        magic1: FP_XSTATE_MAGIC1,
        extended_size: size as u32 + 4,
        xfeatures: layout.xfeatures,
        xstate_size: size as u32,
        ..FpxSwBytes::default()
    };
    set_head(&mut v, &h, short)?;
    Ok(v)
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
    let image = fp_image(&layout, area)?;
    k.write_user(fp_addr, &image)
        .map_err(|_| "the stack cannot take the FP state")?;

    let uc_flags = if layout.xsave_size != 0 {
        UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    } else {
        UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    };
    let f = RtSigframe {
        pretcode: act.restorer,
        uc: UContext {
            uc_flags,
            uc_link: 0,
            uc_stack: StackT {
                ss_sp: alt.sp,
                ss_flags: alt.flags,
                pad: 0,
                ss_size: alt.size,
            },
            uc_mcontext: SigContext {
                r8: regs.r8,
                r9: regs.r9,
                r10: regs.r10,
                r11: regs.r11,
                r12: regs.r12,
                r13: regs.r13,
                r14: regs.r14,
                r15: regs.r15,
                rdi: regs.rdi,
                rsi: regs.rsi,
                rbp: regs.rbp,
                rbx: regs.rbx,
                rdx: regs.rdx,
                rax: regs.rax,
                rcx: regs.rcx,
                rsp: regs.rsp,
                rip: regs.rip,
                eflags: regs.rflags,
                cs: USER_CS,
                gs: 0,
                fs: 0,
                ss: USER_DS,
                err: fault.error_code,
                trapno: fault.trapno,
                oldmask: mask,
                cr2: fault.cr2,
                fpstate: fp_addr,
                reserved1: [0; 8],
            },
            uc_sigmask: mask,
        },
        info: info.to_user(),
    };
    // The siginfo only for SA_SIGINFO handlers, as Linux: the rest of the frame's bytes are
    // the program's stack as it was.
    let len = if act.flags & SA_SIGINFO != 0 {
        FRAME_SIZE
    } else {
        FRAME_INFO
    };
    k.write_user(frame, &f.as_bytes()[..len as usize])
        .map_err(|_| "the stack cannot take the frame")?;

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
    let u: UContext = read_struct(k, frame + FRAME_UC).map_err(|_| "unreadable")?;
    set_mask(p, u.uc_sigmask);
    let m = &u.uc_mcontext;
    regs.r8 = m.r8;
    regs.r9 = m.r9;
    regs.r10 = m.r10;
    regs.r11 = m.r11;
    regs.r12 = m.r12;
    regs.r13 = m.r13;
    regs.r14 = m.r14;
    regs.r15 = m.r15;
    regs.rdi = m.rdi;
    regs.rsi = m.rsi;
    regs.rbp = m.rbp;
    regs.rbx = m.rbx;
    regs.rdx = m.rdx;
    regs.rax = m.rax;
    regs.rcx = m.rcx;
    regs.rsp = m.rsp;
    regs.rip = m.rip;
    regs.rflags = (regs.rflags & !FIX_EFLAGS) | (m.eflags & FIX_EFLAGS);
    // Every register came from the frame: go back with all of them, and restart nothing.
    regs.trap = TRAP_SIGRETURN;
    restore_fp(p, k, m.fpstate)?;
    if regs.rip >= USER_TOP {
        // Linux lets the return fault; the program sees the same SIGSEGV.
        return Err("the return address is not a user address");
    }
    // As restore_altstack: only a fault reading it matters; a refused setting is ignored.
    let _ = set_altstack(p, &u.uc_stack, regs.rsp);
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
    let mut xsave = None;
    if layout.xsave_size != 0 {
        let sw: FpxSwBytes =
            read_struct(k, buf.wrapping_add(FX_SW_BYTES as u64)).map_err(|_| bad)?;
        let size = sw.xstate_size as usize;
        if sw.magic1 == FP_XSTATE_MAGIC1
            && size >= XSAVE_MIN
            && size <= layout.xsave_size as usize
            && size <= sw.extended_size as usize
        {
            let magic2: u32 = read_struct(k, buf.wrapping_add(size as u64)).map_err(|_| bad)?;
            if magic2 == FP_XSTATE_MAGIC2 {
                xsave = Some((size, sw.xfeatures));
            }
        }
    }
    let restore_set = match xsave {
        Some((size, features)) => {
            if !buf.is_multiple_of(64) {
                return Err(bad);
            }
            k.read_user(buf, &mut area.bytes[..size]).map_err(|_| bad)?;
            let header = head(&area.bytes, bad)?.header;
            // XRSTOR faults on unknown components and on a compacted or reserved header.
            if header.xfeatures & !layout.xfeatures != 0 || header.reserved1 != [0; 2] {
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
    let mut h = head(&area.bytes, bad)?;
    if h.fpstate.mxcsr & !layout.mxcsr_mask != 0 {
        return Err(bad);
    }
    if layout.xsave_size != 0 {
        // Components outside what the frame restores start from their initial state.
        let xfeatures = match xsave {
            Some(_) => h.header.xfeatures & restore_set,
            None => XFEATURE_FPSSE,
        };
        h.header = XStateHeader {
            xfeatures,
            ..XStateHeader::default()
        };
    }
    h.fpstate.sw_reserved = FpxSwBytes::default();
    set_head(&mut area.bytes, &h, bad)?;
    k.load_fpu(area);
    Ok(())
}

/// Changes the alternate stack to `ss` for code running at `sp` (do_sigaltstack): EPERM while
/// on it, EINVAL for unknown flags, ENOMEM below MINSIGSTKSZ.
fn set_altstack(p: &mut Current, ss: &StackT, sp: u64) -> Result<(), Errno> {
    let cur = p.sig.altstack;
    if cur.on(sp) {
        return Err(Errno::EPERM);
    }
    let flags = ss.ss_flags;
    let mode = flags & !SS_AUTODISARM;
    if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    if cur.sp == ss.ss_sp && cur.size == ss.ss_size && cur.flags == flags {
        return Ok(());
    }
    let (ss_sp, size) = if mode == SS_DISABLE {
        (0, 0)
    } else if ss.ss_size < MINSIGSTKSZ {
        return Err(Errno::ENOMEM);
    } else {
        (ss.ss_sp, ss.ss_size)
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
    let before = StackT {
        ss_sp: cur.sp,
        ss_flags: cur.state(sp) | (cur.flags & SS_AUTODISARM),
        pad: 0,
        ss_size: cur.size,
    };
    if ss != 0 {
        let new: StackT = read_struct(k, ss)?;
        set_altstack(p, &new, sp)?;
    }
    if old != 0 {
        write_struct(k, old, &before)?;
    }
    Ok(0)
}
