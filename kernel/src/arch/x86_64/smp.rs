//! The other CPUs: finding them (ACPI MADT), starting them (INIT-SIPI-SIPI and a real-mode
//! trampoline), and naming them by index.
//!
//! CPU index 0 is the boot CPU; the others get 1.. in start-up order. Each AP starts in real
//! mode in a page below 1 MiB (chosen by `pvh`), climbs to long mode on temporary page tables
//! that identity-map that page and share the kernel half, jumps to the kernel, switches to the
//! kernel's own page tables and its own stack (mapped with a guard page), sets itself up like
//! the boot CPU (GDT/TSS, IDT, SSE/AVX, SYSCALL, local APIC) and calls the caller's entry.
//! APs are started one after the other, so one parameter block in the trampoline page does.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use spin::Once;
use x86_64::registers::control::{Cr3, Cr4};
use x86_64::structures::paging::PhysFrame;

use super::{acpi, apic, cpu, fault, gdt, trap};
use crate::mm::{frame, paging, phys_to_virt, PAGE_SIZE};
use crate::{log, time};

/// Most CPUs the kernel runs on.
pub const MAX_CPUS: usize = 64;

/// Each AP's kernel stack, and its stacks for traps from ring 3 and for double faults.
const STACK_SIZE: u64 = 64 << 10;
const TRAP_STACK_SIZE: u64 = 16 << 10;

/// How long an AP may take from its STARTUP IPI to the kernel (it is far less on hardware;
/// under emulation its thread may first have to be scheduled).
const ARRIVAL_TIMEOUT_MS: u64 = 1000;

/// AP start-up states.
const OFF: u8 = 0;
const STARTING: u8 = 1;
/// Running kernel code on its own stack: the trampoline's parameters are free again.
const ARRIVED: u8 = 2;
const ONLINE: u8 = 3;
/// Too late: the boot CPU gave up waiting, so the AP parks itself if it ever arrives.
const ABANDONED: u8 = 4;

static STATE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(OFF) }; MAX_CPUS];
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// Each CPU's kernel stack (bottom, top), for backtraces; 0 for the boot CPU's (in the image).
static STACKS: [(AtomicU64, AtomicU64); MAX_CPUS] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; MAX_CPUS];
static TRAP_STACKS: [(AtomicU64, AtomicU64); MAX_CPUS] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; MAX_CPUS];
static ONLINE_COUNT: AtomicUsize = AtomicUsize::new(1);
/// CR4 bits of the boot CPU that the APs copy (global pages and whatever else it enabled).
static BSP_CR4: AtomicU64 = AtomicU64::new(0);

/// What the boot information says about the firmware: the RSDP and a free low page.
#[derive(Debug, Clone, Copy)]
struct Firmware {
    rsdp: u64,
    trampoline: Option<u64>,
}

static FIRMWARE: Once<Firmware> = Once::new();
static ENTRY: Once<fn(usize) -> !> = Once::new();

/// Records the boot CPU (index 0, its APIC id) and where the APs will be found and started:
/// the ACPI RSDP (0 if none) and a free 4 KiB page of RAM below 1 MiB.
pub fn init(rsdp: u64, trampoline_page: Option<u64>) {
    FIRMWARE.call_once(|| Firmware {
        rsdp,
        trampoline: trampoline_page,
    });
    APIC_IDS[0].store(apic::id(), Ordering::Relaxed);
    STATE[0].store(ONLINE, Ordering::Release);
}

/// The number of CPUs running kernel code: indices `0..cpus_online()`.
pub fn cpus_online() -> usize {
    ONLINE_COUNT.load(Ordering::Acquire)
}

/// Sends interrupt `vector` to the CPU with index `cpu` (this CPU included). Ignored for a CPU
/// that is not online.
pub fn send_ipi(cpu: usize, vector: u8) {
    if cpu < cpus_online() {
        apic::send_ipi(APIC_IDS[cpu].load(Ordering::Relaxed), vector);
    }
}

/// The APIC id of the CPU with index `cpu` (0 for an index never started).
pub fn apic_id(cpu: usize) -> u32 {
    APIC_IDS.get(cpu).map_or(0, |id| id.load(Ordering::Relaxed))
}

/// Whether `[addr, addr+len)` lies within one of the APs' kernel stacks.
pub fn on_ap_stack(addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    STACKS.iter().any(|(bottom, top)| {
        let (bottom, top) = (bottom.load(Ordering::Relaxed), top.load(Ordering::Relaxed));
        bottom != 0 && addr >= bottom && end <= top
    })
}

extern "C" {
    static coracle_ap_trampoline: u8;
    static coracle_ap_trampoline_end: u8;
    static coracle_ap_params: u8;
    fn coracle_ap_entry64();
}

/// The trampoline's parameter block, filled by the boot CPU for each AP.
#[repr(C)]
struct Params {
    /// The temporary PML4 (below 4 GiB: loaded from 32-bit code).
    temp_cr3: u64,
    /// The kernel's CR3, loaded once the AP runs in the higher half.
    kernel_cr3: u64,
    stack_top: u64,
    cpu: u64,
    entry64: u64,
}

/// Spins for `ms` milliseconds of TSC time, or until `done` says so; returns whether it did.
fn wait_ms(khz: u64, ms: u64, done: impl Fn() -> bool) -> bool {
    let start = cpu::rdtsc();
    let ticks = khz.saturating_mul(ms);
    loop {
        if done() {
            return true;
        }
        if cpu::rdtsc().wrapping_sub(start) >= ticks {
            return false;
        }
        core::hint::spin_loop();
    }
}

fn wait_us(khz: u64, us: u64) {
    let start = cpu::rdtsc();
    let ticks = khz.saturating_mul(us) / 1000;
    while cpu::rdtsc().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}

/// The APIC ids of the enabled CPUs other than this one, at most `max`, in MADT order.
fn discover(rsdp: u64, max: usize) -> Result<([u32; MAX_CPUS], usize), acpi::AcpiError> {
    let me = apic::id();
    let (mut ids, mut len, mut extra) = ([0u32; MAX_CPUS], 0, 0);
    acpi::for_each_cpu(rsdp, |id| {
        if id == me || ids[..len].contains(&id) {
            return;
        }
        if len < max {
            ids[len] = id;
            len += 1;
        } else {
            extra += 1;
        }
    })?;
    if extra > 0 {
        log!("smp: {extra} more CPUs in the MADT than wanted or supported ({MAX_CPUS})");
    }
    Ok((ids, len))
}

/// Temporary page tables for the trampoline: the first 2 MiB identity-mapped (where the
/// trampoline runs when paging comes on), plus the kernel half of the live tables.
struct TempTables([PhysFrame; 3]);

impl TempTables {
    fn new() -> Option<Self> {
        let frames = [
            frame::alloc_zeroed()?,
            frame::alloc_zeroed()?,
            frame::alloc_zeroed()?,
        ];
        let [pml4, pdpt, pd] = frames.map(|f| f.start_address().as_u64());
        let table = |phys: u64| phys_to_virt(phys) as *mut u64;
        let live = phys_to_virt(Cr3::read().0.start_address().as_u64()) as *const u64;
        // SAFETY: the three frames are fresh, zeroed and ours; the live PML4 is a page-table
        // frame in the direct map, read only. Entries: present | writable (| huge for 2 MiB).
        unsafe {
            *table(pd) = 0x83;
            *table(pdpt) = pd | 0x3;
            *table(pml4) = pdpt | 0x3;
            for i in 256..512 {
                *table(pml4).add(i) = *live.add(i);
            }
        }
        Some(Self(frames))
    }

    fn root(&self) -> u64 {
        self.0[0].start_address().as_u64()
    }

    fn free(self) {
        for f in self.0 {
            frame::free(f);
        }
    }
}

/// Starts up to `wanted - 1` more CPUs, each of which calls `entry(its index)` once it is set
/// up, and returns the number of CPUs online (the boot CPU included). Without an APIC, ACPI
/// tables or a trampoline page this is 1. Called once, on the boot CPU, before user code runs;
/// later calls start nothing.
pub fn start_aps(wanted: usize, entry: fn(usize) -> !) -> usize {
    let wanted = wanted.min(MAX_CPUS);
    if wanted <= 1 || ENTRY.is_completed() {
        return cpus_online();
    }
    ENTRY.call_once(|| entry);
    let Some(&Firmware { rsdp, trampoline }) = FIRMWARE.get() else {
        return cpus_online();
    };
    if !apic::available() {
        log!("smp: no local APIC, running on one CPU");
        return cpus_online();
    }
    let (ids, count) = match discover(rsdp, wanted - 1) {
        Ok(found) => found,
        Err(e) => {
            log!("smp: {e}; running on one CPU");
            return cpus_online();
        }
    };
    let Some(page) = trampoline else {
        log!("smp: no free page below 1 MiB for the start-up code; running on one CPU");
        return cpus_online();
    };
    let Some(tables) = TempTables::new() else {
        log!("smp: out of memory; running on one CPU");
        return cpus_online();
    };
    let params = install_trampoline(page, tables.root());
    BSP_CR4.store(Cr4::read_raw(), Ordering::Relaxed);
    let khz = time::tsc_khz();
    let begin = cpu::rdtsc();

    // Stacks first, so that a shortage ends the list before any CPU is woken.
    let mut ready = 0;
    for (i, &id) in ids[..count].iter().enumerate() {
        let cpu = i + 1;
        let (Ok(stack), Ok(trap), Ok(double_fault)) = (
            paging::map_kernel_stack(STACK_SIZE),
            paging::map_kernel_stack(TRAP_STACK_SIZE),
            paging::map_kernel_stack(TRAP_STACK_SIZE),
        ) else {
            log!("smp: out of memory for the stacks of CPU {cpu}");
            break;
        };
        STACKS[cpu].0.store(stack.0, Ordering::Relaxed);
        STACKS[cpu].1.store(stack.1, Ordering::Relaxed);
        TRAP_STACKS[cpu].0.store(trap.1, Ordering::Relaxed);
        TRAP_STACKS[cpu].1.store(double_fault.1, Ordering::Relaxed);
        APIC_IDS[cpu].store(id, Ordering::Relaxed);
        ready += 1;
    }

    // INIT all of them, then one wait (SDM vol. 3A 8.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI).
    for &id in &ids[..ready] {
        apic::send_init(id);
    }
    wait_us(khz, 10_000);

    let mut abandoned = false;
    for cpu in 1..=ready {
        let id = APIC_IDS[cpu].load(Ordering::Relaxed);
        // SAFETY: `params` points into the trampoline page, which only this loop writes; the
        // previous AP has left the trampoline (it arrived) before this write.
        unsafe {
            (*params).stack_top = STACKS[cpu].1.load(Ordering::Relaxed);
            (*params).cpu = cpu as u64;
        }
        STATE[cpu].store(STARTING, Ordering::Release);
        let arrived = || STATE[cpu].load(Ordering::Acquire) != STARTING;
        apic::send_startup(id, (page >> 12) as u8);
        if !wait_ms(khz, 1, arrived) {
            // A second STARTUP IPI: ignored by a CPU that is already running.
            apic::send_startup(id, (page >> 12) as u8);
        }
        if !wait_ms(khz, ARRIVAL_TIMEOUT_MS, arrived)
            && STATE[cpu]
                .compare_exchange(STARTING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            log!("smp: CPU {cpu} (APIC id {id}) did not start; going on with {cpu} CPUs");
            abandoned = true;
            break;
        }
        while STATE[cpu].load(Ordering::Acquire) != ONLINE {
            core::hint::spin_loop();
        }
    }
    // An abandoned CPU may still be on its way through the temporary tables.
    if !abandoned {
        tables.free();
    }
    let online = cpus_online();
    let us = cpu::rdtsc().wrapping_sub(begin) * 1000 / khz.max(1);
    log!("smp: {online} CPUs online (start-up took {us} us)");
    online
}

/// Copies the trampoline into the page at physical `page` and returns its parameter block,
/// with the fields shared by all APs filled in.
fn install_trampoline(page: u64, temp_cr3: u64) -> *mut Params {
    let start = &raw const coracle_ap_trampoline;
    let len = (&raw const coracle_ap_trampoline_end) as usize - start as usize;
    let params_offset = (&raw const coracle_ap_params) as usize - start as usize;
    const {
        assert!(core::mem::size_of::<Params>() == 40);
    }
    if len > PAGE_SIZE as usize {
        crate::fatal(format_args!(
            "the AP trampoline ({len} bytes) exceeds a page"
        ));
    }
    let dst = phys_to_virt(page) as *mut u8;
    // SAFETY: the trampoline is `len` bytes of kernel rodata; the destination is a free page
    // of RAM below 1 MiB (pvh chose it; the frame allocator never hands out that range),
    // reached through the direct map.
    unsafe { crate::arch::mem::copy(dst, start, len) };
    // SAFETY: the parameter block lies within the copy, 8-byte aligned (see the assembly).
    let params = unsafe { dst.add(params_offset) } as *mut Params;
    // SAFETY: as above.
    unsafe {
        (*params).temp_cr3 = temp_cr3;
        let (root, flags) = Cr3::read_raw();
        (*params).kernel_cr3 = root.start_address().as_u64() | u64::from(flags);
        (*params).entry64 = coracle_ap_entry64 as *const () as u64;
    }
    params
}

fn park() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// The first Rust code on an AP: on its own stack and the kernel's page tables, but with the
/// trampoline's GDT, no IDT and no per-CPU data yet.
#[no_mangle]
extern "C" fn coracle_ap_main(cpu: usize) -> ! {
    if cpu >= MAX_CPUS
        || STATE[cpu]
            .compare_exchange(STARTING, ARRIVED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        park();
    }
    let (trap, double_fault) = &TRAP_STACKS[cpu];
    gdt::init(
        cpu,
        gdt::TrapStacks {
            privilege: trap.load(Ordering::Relaxed),
            double_fault: double_fault.load(Ordering::Relaxed),
        },
    );
    fault::init();
    cpu::init();
    // SAFETY: the boot CPU runs with these bits; the CPUs are identical, so they are
    // supported here, and nothing running depends on them being clear.
    unsafe { Cr4::write_raw(Cr4::read_raw() | BSP_CR4.load(Ordering::Relaxed)) };
    trap::init(cpu);
    apic::init_cpu();
    ONLINE_COUNT.fetch_max(cpu + 1, Ordering::AcqRel);
    STATE[cpu].store(ONLINE, Ordering::Release);
    match ENTRY.get() {
        Some(entry) => entry(cpu),
        None => park(),
    }
}

// The trampoline: copied to a page below 1 MiB and entered there in real mode by STARTUP
// (CS = page >> 4, IP = 0). It first writes the page's own address into its GDT pointer and
// far-jump pointers, since it can run from any page.
core::arch::global_asm!(
    r#"
    .section .rodata.coracle_ap_trampoline, "a"
    .balign 16
    .global coracle_ap_trampoline
    .global coracle_ap_trampoline_end
    .global coracle_ap_params
    .code16
coracle_ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    movzwl %ax, %ebx
    shl $4, %ebx                           /* this page's physical address */
    leal (ap_gdt - coracle_ap_trampoline)(%ebx), %eax
    movl %eax, (ap_gdtr + 2 - coracle_ap_trampoline)
    leal (ap_pm32 - coracle_ap_trampoline)(%ebx), %eax
    movl %eax, (ap_far32 - coracle_ap_trampoline)
    leal (ap_lm64 - coracle_ap_trampoline)(%ebx), %eax
    movl %eax, (ap_far64 - coracle_ap_trampoline)
    lgdtl (ap_gdtr - coracle_ap_trampoline)
    mov %cr0, %eax
    or $1, %eax                            /* PE */
    mov %eax, %cr0
    ljmpl *(ap_far32 - coracle_ap_trampoline)

    .code32
ap_pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $0x20, %eax                         /* PAE */
    mov %eax, %cr4
    mov (coracle_ap_params - coracle_ap_trampoline)(%ebx), %eax
    mov %eax, %cr3                         /* the temporary tables */
    mov $0xc0000080, %ecx                  /* IA32_EFER */
    rdmsr
    or $0x901, %eax                        /* SCE | LME | NXE */
    wrmsr
    mov $0x80010033, %eax                  /* PG | WP | NE | ET | MP | PE; caches on */
    mov %eax, %cr0
    ljmpl *(ap_far64 - coracle_ap_trampoline)(%ebx)

    .code64
ap_lm64:
    mov %ebx, %ebx
    mov (coracle_ap_params + 8 - coracle_ap_trampoline)(%rbx), %rax
    mov (coracle_ap_params + 16 - coracle_ap_trampoline)(%rbx), %rsp
    mov (coracle_ap_params + 24 - coracle_ap_trampoline)(%rbx), %rdi
    mov (coracle_ap_params + 32 - coracle_ap_trampoline)(%rbx), %rcx
    jmp *%rcx

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff               /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff               /* 0x10: data */
    .quad 0x00af9a000000ffff               /* 0x18: 64-bit code */
ap_gdtr:
    .word 31
    .long 0
    .balign 4
ap_far32:
    .long 0
    .word 0x08
    .balign 4
ap_far64:
    .long 0
    .word 0x18
    .balign 8
coracle_ap_params:
    .fill 5, 8, 0
coracle_ap_trampoline_end:

    .section .text.coracle_ap_entry, "ax"
    .global coracle_ap_entry64
coracle_ap_entry64:
    mov %rax, %cr3                         /* the kernel's tables: the trampoline is gone */
    xor %ebp, %ebp                         /* terminates the backtrace */
    call coracle_ap_main
    ud2
"#,
    options(att_syntax)
);
