//! The debug registers of `struct user` as ptrace reads and writes them: DR0-DR3 (addresses),
//! DR6 (the status of the last debug exception) and DR7 (which breakpoints are on, their
//! kinds and lengths), with the checks Linux makes (`arch/x86/kernel/ptrace.c`
//! ptrace_get_debugreg, ptrace_set_debugreg, ptrace_write_dr7; hw_breakpoint_arch_parse).
//! The kernel arms what is set while the thread runs in user mode (`DebugRegs`).

use crate::regs::DebugRegs;
use crate::Errno;

/// DR6's bits that read as 1 when clear (DR6_RESERVED): ptrace shows the status through them.
const DR6_RESERVED: u64 = 0xffff_0ff0;
/// The highest user address plus one (TASK_SIZE_MAX).
const TASK_SIZE_MAX: u64 = 0x7fff_ffff_f000;

/// Debug register `n` (0-7).
pub(super) fn peek(d: &DebugRegs, n: usize) -> u64 {
    match n {
        0..=3 => d.addr[n],
        6 => d.status ^ DR6_RESERVED,
        7 => d.dr7,
        _ => 0,
    }
}

/// Sets debug register `n`: DR4 and DR5 are `EIO`; a DR7 that enables a breakpoint Linux
/// cannot make (an I/O one, an instruction one longer than a byte, an address not aligned
/// to its length or outside user space) is `EINVAL`, and nothing changes.
pub(super) fn poke(d: &mut DebugRegs, n: usize, value: u64) -> Result<(), Errno> {
    match n {
        0..=3 => {
            if d.dr7 & (3 << (2 * n)) != 0 {
                check(value, d.dr7, n)?;
            }
            d.addr[n] = value;
        }
        6 => d.status = value ^ DR6_RESERVED,
        7 => {
            for i in 0..4 {
                if value & (3 << (2 * i)) != 0 {
                    check(d.addr[i], value, i)?;
                }
            }
            d.dr7 = value;
        }
        _ => return Err(Errno::EIO),
    }
    Ok(())
}

/// Whether breakpoint `i` of `dr7` at `addr` is one the CPU and Linux allow.
fn check(addr: u64, dr7: u64, i: usize) -> Result<(), Errno> {
    let kind = (dr7 >> (16 + 4 * i)) & 3;
    let len = match (dr7 >> (18 + 4 * i)) & 3 {
        0 => 1,
        1 => 2,
        2 => 8,
        _ => 4,
    };
    let bad = kind == 2
        || (kind == 0 && len != 1)
        || !addr.is_multiple_of(len)
        || addr.checked_add(len).is_none_or(|end| end > TASK_SIZE_MAX);
    if bad {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITE_4: u64 = 1 | (1 << 16) | (3 << 18);

    #[test]
    fn dr7_is_checked_against_the_addresses() {
        let mut d = DebugRegs::default();
        assert_eq!(peek(&d, 6), DR6_RESERVED);
        assert_eq!(poke(&mut d, 4, 0), Err(Errno::EIO));
        poke(&mut d, 0, 0x1002).unwrap();
        // Not aligned to 4 bytes.
        assert_eq!(poke(&mut d, 7, WRITE_4), Err(Errno::EINVAL));
        poke(&mut d, 0, 0x1004).unwrap();
        poke(&mut d, 7, WRITE_4).unwrap();
        assert_eq!(peek(&d, 7), WRITE_4);
        // Enabled: a new address is checked too, and refused without a change.
        assert_eq!(poke(&mut d, 0, TASK_SIZE_MAX), Err(Errno::EINVAL));
        assert_eq!(peek(&d, 0), 0x1004);
        // I/O breakpoints, and instruction breakpoints longer than a byte.
        assert_eq!(poke(&mut d, 7, 1 | (2 << 16)), Err(Errno::EINVAL));
        assert_eq!(poke(&mut d, 7, 1 | (3 << 18)), Err(Errno::EINVAL));
        assert!(d.armed());
    }

    #[test]
    fn a_trap_sets_the_status_and_the_code() {
        let mut d = DebugRegs::default();
        poke(&mut d, 1, 0x4000).unwrap();
        // Breakpoint 1 is an instruction one, breakpoint 0 (disabled) also matched.
        poke(&mut d, 7, 1 << 2).unwrap();
        assert!(d.note_trap(DR6_RESERVED | 0b11));
        assert_eq!(peek(&d, 6) & 0x400f, 0b10);
        assert_eq!(d.trap_code, 4);
        assert!(!d.note_trap(DR6_RESERVED | crate::regs::DR_STEP));
        assert_eq!(peek(&d, 6) & 0x400f, 0x4000);
        assert_eq!(d.trap_code, 2);
        poke(&mut d, 6, 0).unwrap();
        assert_eq!(peek(&d, 6), 0);
    }
}
