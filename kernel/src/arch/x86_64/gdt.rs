//! GDT and TSS: the four flat segments SYSCALL/SYSRET need, in the order they need them, and
//! the stacks the CPU switches to on a trap from user mode or a double fault; one set per CPU.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

use super::smp::MAX_CPUS;

/// Selectors; the order kernel code, kernel data, user data, user code is fixed by SYSRET.
pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_DS: u16 = 0x18 | 3;
pub const USER_CS: u16 = 0x20 | 3;

/// Interrupt stack table slot used by the double-fault handler.
pub const DOUBLE_FAULT_IST: u16 = 0;

const TRAP_STACK_SIZE: usize = 16 * 1024;

/// A stack the CPU may switch to; only ever used by hardware, through its top address.
#[repr(C, align(16))]
struct Stack(UnsafeCell<[u8; TRAP_STACK_SIZE]>);

// SAFETY: Rust code never reads or writes the stack's bytes; only the CPU does, through the TSS.
unsafe impl Sync for Stack {}

static TRAP_STACK: Stack = Stack(UnsafeCell::new([0; TRAP_STACK_SIZE]));
static DOUBLE_FAULT_STACK: Stack = Stack(UnsafeCell::new([0; TRAP_STACK_SIZE]));

/// One TSS and one GDT per CPU: the TSS holds the CPU's own trap stacks, and a TSS descriptor
/// is marked busy when loaded, so CPUs cannot share one.
static TSS: [Once<TaskStateSegment>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];
static GDT: [Once<GlobalDescriptorTable<8>>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];

fn top(stack: &'static Stack) -> VirtAddr {
    VirtAddr::from_ptr(stack.0.get()) + TRAP_STACK_SIZE as u64
}

/// The tops of a CPU's trap stacks: for traps from ring 3 (RSP0) and for double faults.
#[derive(Debug, Clone, Copy)]
pub struct TrapStacks {
    pub privilege: u64,
    pub double_fault: u64,
}

/// The boot CPU's trap stacks, in the kernel image.
pub fn boot_stacks() -> TrapStacks {
    TrapStacks {
        privilege: top(&TRAP_STACK).as_u64(),
        double_fault: top(&DOUBLE_FAULT_STACK).as_u64(),
    }
}

/// Builds CPU `cpu`'s TSS and GDT with `stacks` and loads them on this CPU. Called once per
/// CPU, on that CPU, with `cpu < MAX_CPUS`.
pub fn init(cpu: usize, stacks: TrapStacks) {
    let tss = TSS[cpu].call_once(|| {
        let mut tss = TaskStateSegment::new();
        // Traps from ring 3 land here; the entry code copies the frame out and leaves at once.
        tss.privilege_stack_table[0] = VirtAddr::new_truncate(stacks.privilege);
        tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] =
            VirtAddr::new_truncate(stacks.double_fault);
        tss
    });
    let gdt = GDT[cpu].call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let sels = [
            gdt.append(Descriptor::kernel_code_segment()),
            gdt.append(Descriptor::kernel_data_segment()),
            gdt.append(Descriptor::user_data_segment()),
            gdt.append(Descriptor::user_code_segment()),
        ];
        debug_assert_eq!(sels.map(|s| s.0), [KERNEL_CS, KERNEL_DS, USER_DS, USER_CS]);
        gdt.append(Descriptor::tss_segment(tss));
        gdt
    });
    gdt.load();
    // SAFETY: the selectors name the descriptors just appended to the loaded GDT, and the TSS
    // descriptor follows them at 0x28.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_DS));
        ES::set_reg(SegmentSelector(KERNEL_DS));
        SS::set_reg(SegmentSelector(KERNEL_DS));
        load_tss(SegmentSelector(0x28));
    }
}
