//! What happens when the kernel itself fails: a readable report on the kernel log — what went
//! wrong, the registers, a return-address backtrace — a `panic` control record, and a stop
//! with the failure status (the tool then exits 125).

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::fault::vector_name;
use crate::arch::trap::KernelFrame;
use crate::arch::{cpu, stack_range_contains};
use crate::console;

static FAILING: AtomicBool = AtomicBool::new(false);

/// Stops the VM after a failure; a second failure while reporting stops at once.
fn enter_failure() {
    if FAILING.swap(true, Ordering::SeqCst) {
        cpu::exit_vm(1);
    }
}

fn stop() -> ! {
    console::control(format_args!("panic"));
    cpu::exit_vm(1)
}

/// Logs the return addresses found by following the frame-pointer chain from `rbp`.
fn backtrace(mut rbp: u64) {
    console::log_line_emergency(format_args!(
        "backtrace (resolve with addr2line -e <kernel ELF>):"
    ));
    for depth in 0..32 {
        if rbp == 0 || !rbp.is_multiple_of(8) || !stack_range_contains(rbp, 16) {
            break;
        }
        // SAFETY: `rbp` and the word after it lie on a mapped kernel stack (checked above).
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        console::log_line_emergency(format_args!("  #{depth}: {ret:#018x}"));
        rbp = next;
    }
}

/// Reports a CPU exception taken in ring 0 and stops.
pub fn report_kernel_fault(f: &KernelFrame, cr2: u64) -> ! {
    enter_failure();
    let log = console::log_line_emergency;
    log(format_args!(
        "KERNEL FAULT: {} (vector {}), error code {:#x}",
        vector_name(f.vector),
        f.vector,
        f.error_code
    ));
    log(format_args!(
        "  RIP {:#018x}  CS {:#x}  RFLAGS {:#x}",
        f.rip, f.cs, f.rflags
    ));
    log(format_args!(
        "  RSP {:#018x}  SS {:#x}  CR2 {:#018x}",
        f.rsp, f.ss, cr2
    ));
    log(format_args!(
        "  RAX {:#018x} RBX {:#018x} RCX {:#018x} RDX {:#018x}",
        f.rax, f.rbx, f.rcx, f.rdx
    ));
    log(format_args!(
        "  RSI {:#018x} RDI {:#018x} RBP {:#018x} R8  {:#018x}",
        f.rsi, f.rdi, f.rbp, f.r8
    ));
    log(format_args!(
        "  R9  {:#018x} R10 {:#018x} R11 {:#018x} R12 {:#018x}",
        f.r9, f.r10, f.r11, f.r12
    ));
    log(format_args!(
        "  R13 {:#018x} R14 {:#018x} R15 {:#018x}",
        f.r13, f.r14, f.r15
    ));
    console::log_line_emergency(format_args!("  #-: {:#018x} (faulting instruction)", f.rip));
    backtrace(f.rbp);
    stop()
}

/// Stops with a message, for failures found by the kernel's own checks (bad boot data...).
pub fn fatal(args: fmt::Arguments<'_>) -> ! {
    enter_failure();
    console::log_line_emergency(format_args!("KERNEL FAILURE: {args}"));
    stop()
}

/// Keeps the first bytes written to it: enough to recognise a panic message.
struct Prefix {
    buf: [u8; 32],
    len: usize,
}

impl fmt::Write for Prefix {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Whether a panic is the standard library's report of an allocation that failed (`alloc`'s
/// `handle_alloc_error`, which panics in a `no_std` program: "memory allocation of N bytes
/// failed"): the kernel heap could not grow because the frames ran out.
fn is_allocation_failure(info: &core::panic::PanicInfo<'_>) -> bool {
    let mut p = Prefix {
        buf: [0; 32],
        len: 0,
    };
    let _ = fmt::write(&mut p, format_args!("{}", info.message()));
    p.buf[..p.len].starts_with(b"memory allocation of ")
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    enter_failure();
    if is_allocation_failure(info) {
        // Not a bug but too small a VM (at boot, the devices' buffers and the first
        // structures did not fit): said as the other out-of-memory failures say it.
        console::log_line_emergency(format_args!(
            "KERNEL FAILURE: out of memory: {} (the kernel heap could not grow); give the VM \
             more memory (-m)",
            info.message()
        ));
        stop()
    }
    console::log_line_emergency(format_args!("KERNEL PANIC: {info}"));
    backtrace(crate::arch::frame_pointer());
    stop()
}
