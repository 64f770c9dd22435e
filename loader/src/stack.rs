//! The initial user stack, byte for byte as Linux lays it out for an x86_64 ELF program.
//!
//! fs/exec.c copies the strings below the stack top, and fs/binfmt_elf.c `create_elf_tables`
//! adds the rest. From high to low addresses:
//!
//! ```text
//! stack_top - 8   8 zero bytes (bprm->p starts one pointer below the top)
//!                 execfn string, then envp strings, then argv strings (argv[0] lowest)
//!                 (`align_pad` bytes, then aligned down to 16: arch_align_stack)
//!                 "x86_64\0" (AT_PLATFORM), then the 16 AT_RANDOM bytes
//!                 zero padding, so that sp ends 16-byte aligned
//!                 auxv pairs ending with AT_NULL, envp pointers + NULL, argv pointers + NULL
//! sp ->           argc
//! ```
//!
//! The kernel writes [`InitialStack::bytes`] at [`InitialStack::sp`]; this module only computes.

use alloc::vec::Vec;

use crate::auxv::{entries, entry_count, AuxValues, StackAddrs};
use crate::error::{StackError, StringKind};
use crate::PAGE_SIZE;

/// Longest single argument or environment string, NUL included (Linux MAX_ARG_STRLEN).
pub const MAX_ARG_STRLEN: u64 = 32 * PAGE_SIZE;

/// The largest [`StackParams::align_pad`] Linux uses (arch_align_stack's `% 8192`), + 1.
pub const MAX_ALIGN_PAD: u64 = 8192;

/// The AT_PLATFORM string for x86_64 (ELF_PLATFORM), NUL included.
const PLATFORM: &[u8] = b"x86_64\0";

/// What goes on the initial stack.
#[derive(Debug, Clone, Copy)]
pub struct StackParams<'a> {
    /// Arguments, without NULs. An empty list gets one empty string, as Linux (5.18+) does.
    pub argv: &'a [&'a [u8]],
    /// Environment strings (`NAME=value`), without NULs.
    pub envp: &'a [&'a [u8]],
    /// The path given to `execve` (AT_EXECFN), without NUL.
    pub execfn: &'a [u8],
    /// The AT_RANDOM bytes, which libc uses for the stack protector and pointer guard.
    pub random: [u8; 16],
    /// Gap below the strings before the rest: Linux's arch_align_stack leaves a random one
    /// of less than 8 KiB with ASLR on, 0 with it off ([`MAX_ALIGN_PAD`]).
    pub align_pad: u64,
    pub auxv: AuxValues,
}

/// The initial stack image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialStack {
    /// The user `rsp` at entry: the address of argc, 16-byte aligned.
    pub sp: u64,
    /// To be written at `[sp, sp + bytes.len())`, which ends exactly at the stack top.
    pub bytes: Vec<u8>,
}

impl InitialStack {
    /// The auxiliary vector's bytes in the image (its pairs, AT_NULL included), found as a
    /// program finds it: after argc, the argv pointers and the envp pointers, each list ending
    /// with a NULL.
    pub fn auxv(&self) -> &[u8] {
        let word = |i: usize| {
            self.bytes
                .get(i * 8..i * 8 + 8)
                .and_then(|w| w.try_into().ok())
                .map(u64::from_le_bytes)
        };
        // argc, then two NULL-terminated pointer lists.
        let mut i = 1;
        for _ in 0..2 {
            while word(i).is_some_and(|w| w != 0) {
                i += 1;
            }
            i += 1;
        }
        let start = (i * 8).min(self.bytes.len());
        let mut end = start;
        while let Some(key) = word(end / 8) {
            end = (end + 16).min(self.bytes.len());
            if key == 0 {
                break;
            }
        }
        &self.bytes[start..end]
    }
}

const EMPTY_ARGV: &[&[u8]] = &[b""];

/// Length of `s` with its NUL, checked as Linux's `copy_strings` does.
fn string_len(s: &[u8], kind: StringKind, index: usize) -> Result<u64, StackError> {
    if s.contains(&0) {
        return Err(StackError::InteriorNul { kind, index });
    }
    let len = u64::try_from(s.len())
        .ok()
        .and_then(|l| l.checked_add(1))
        .unwrap_or(u64::MAX);
    if len > MAX_ARG_STRLEN {
        return Err(StackError::StringTooLong { kind, index, len });
    }
    Ok(len)
}

/// Grows `off` (a distance below `top`) so that `top - off` is 16-byte aligned.
fn align_down_16(top: u64, off: u64) -> u64 {
    // Only the low four bits matter, so the wrapping subtraction gives the right padding.
    off.saturating_add(top.wrapping_sub(off) & 15)
}

/// Lays out the initial stack below `stack_top`, refusing to use more than `max_size` bytes.
///
/// `max_size` stands in for Linux's E2BIG limits (a quarter of RLIMIT_STACK for the strings
/// and pointers); here it bounds the whole image, which is also the most this allocates.
pub fn build_stack(
    p: &StackParams<'_>,
    stack_top: u64,
    max_size: u64,
) -> Result<InitialStack, StackError> {
    let argv = if p.argv.is_empty() {
        EMPTY_ARGV
    } else {
        p.argv
    };
    let too_big = |needed| StackError::TooBig {
        needed,
        max: max_size,
    };
    let add = |off: u64, n: u64| off.checked_add(n).ok_or(too_big(u64::MAX));

    // Distances below stack_top, in the order fs/exec.c pushes: execfn, envp, argv, each
    // list from its last string down, so that argv[0] ends up lowest.
    let mut off = 8;
    off = add(off, string_len(p.execfn, StringKind::ExecFn, 0)?)?;
    let execfn_off = off;
    let mut env_offs = Vec::with_capacity(p.envp.len());
    for (i, s) in p.envp.iter().enumerate().rev() {
        off = add(off, string_len(s, StringKind::Env, i)?)?;
        env_offs.push(off);
    }
    let mut arg_offs = Vec::with_capacity(argv.len());
    for (i, s) in argv.iter().enumerate().rev() {
        off = add(off, string_len(s, StringKind::Arg, i)?)?;
        arg_offs.push(off);
    }
    env_offs.reverse();
    arg_offs.reverse();
    let strings_off = off;
    off = align_down_16(stack_top, add(off, p.align_pad.min(MAX_ALIGN_PAD - 1))?);
    let platform_off = add(off, PLATFORM.len() as u64)?;
    let random_off = add(platform_off, 16)?;

    let words = |n: usize| u64::try_from(n).ok().and_then(|n| n.checked_mul(8));
    let items = words(argv.len())
        .zip(words(p.envp.len()))
        .and_then(|(a, e)| a.checked_add(e)?.checked_add(3 * 8))
        .ok_or(too_big(u64::MAX))?;
    let auxv_bytes = entry_count(&p.auxv) * 16;
    let sp_off = align_down_16(stack_top, add(add(random_off, auxv_bytes)?, items)?);
    if sp_off > max_size {
        return Err(too_big(sp_off));
    }
    let sp = stack_top
        .checked_sub(sp_off)
        .ok_or(StackError::StackTopTooLow { stack_top })?;
    // Every other offset is below sp_off, so these subtractions cannot wrap.
    let addr = |off: u64| stack_top.wrapping_sub(off);

    let mut b = Vec::with_capacity(usize::try_from(sp_off).map_err(|_| too_big(sp_off))?);
    let mut push = |v: u64| b.extend_from_slice(&v.to_le_bytes());
    push(argv.len() as u64);
    arg_offs.iter().for_each(|&o| push(addr(o)));
    push(0);
    env_offs.iter().for_each(|&o| push(addr(o)));
    push(0);
    let at = StackAddrs {
        random: addr(random_off),
        execfn: addr(execfn_off),
        platform: addr(platform_off),
    };
    for (key, value) in entries(&p.auxv, &at) {
        push(key);
        push(value);
    }
    let pos = |off: u64| {
        sp_off
            .checked_sub(off)
            .and_then(|d| usize::try_from(d).ok())
            .ok_or(too_big(sp_off))
    };
    b.resize(pos(random_off)?, 0);
    b.extend_from_slice(&p.random);
    b.extend_from_slice(PLATFORM);
    b.resize(pos(strings_off)?, 0);
    for s in argv.iter().chain(p.envp).chain([&p.execfn]) {
        b.extend_from_slice(s);
        b.push(0);
    }
    b.resize(pos(0)?, 0);
    Ok(InitialStack { sp, bytes: b })
}
