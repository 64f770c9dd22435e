//! Random system calls with random arguments against the fake platform: whatever a program
//! asks, a handler answers (a value or an error) and never panics. The same idea as
//! tools/tests/robust/sysfuzz.c in a VM, but deterministic and fast, and with debug
//! assertions and overflow checks when run without `--release`.

use crate::nr::*;
use coracle_vfs::Wake;

use super::fake::{regs, setup, Fake, SCRATCH};
use crate::{dispatch, resume, Current, Outcome};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// An argument: the kinds of values that reach handlers' edge cases.
fn arg(rng: &mut Rng) -> u64 {
    match rng.next() % 11 {
        0 => 0,
        1 => rng.next() % 16,
        2 => u64::MAX,
        3 => rng.next(),
        4 | 5 => SCRATCH + rng.next() % 4096,
        // Near the end of the scratch memory.
        6 => SCRATCH + 4 * 4096 - 1 - rng.next() % 64,
        7 => 0xffff_ffff_8000_0000 + rng.next() % 0x100_0000,
        8 => 1 << (rng.next() % 64),
        9 => rng.next() % 4096,
        _ => SCRATCH,
    }
}

const PATHS: [&[u8]; 6] = [
    b"/tmp/fz\0",
    b"/tmp\0",
    b".\0",
    b"/proc/self/status\0",
    b"/tmp/fz/a\0",
    b"\0",
];

/// Runs one call to its end the way the kernel's loop would: a wait is interrupted (as by a
/// signal) and the call resumed, a few times at most; pending signals are then delivered.
/// Returns false when the process is gone or stuck (the caller starts a new one).
fn run_call(p: &mut Current, k: &mut Fake, nr: u64, args: &[u64]) -> bool {
    let mut r = regs(nr, args);
    let mut outcome = dispatch(p, k, &mut r);
    for _ in 0..3 {
        if outcome != Outcome::Wait {
            break;
        }
        p.thread.interrupt();
        let why = p.thread.finish_wait().unwrap_or(Wake::Retry);
        outcome = resume(p, k, &mut r, why);
    }
    match outcome {
        Outcome::Return(_) | Outcome::Yield(_) => {
            crate::signal::deliver(p, k, &mut r).is_none() && p.exit_status.is_none()
        }
        _ => false,
    }
}

/// 60 processes of up to 400 calls; `CORACLE_FUZZ_SEED` and `CORACLE_FUZZ_PROCESSES` run
/// others (a bug hunt: `cargo test -p coracle-syscalls random_calls`, without --release).
#[test]
fn random_calls_never_panic() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let processes = env("CORACLE_FUZZ_PROCESSES", 60);
    let seed = env("CORACLE_FUZZ_SEED", 0x2545_f491_4f6c_dd1d) | 1;
    // Calls whose effect reaches beyond the process the fake models: new processes and
    // images (their children pile up on the run queue), and the call that ends the thread.
    const SKIP: [u64; 8] = [
        SYS_clone,
        SYS_fork,
        SYS_vfork,
        SYS_execve,
        SYS_execveat,
        SYS_clone3,
        SYS_exit,
        SYS_exit_group,
    ];
    let mut rng = Rng(seed);
    let mut calls = 0u64;
    for _process in 0..processes {
        let (mut p, mut k) = setup();
        for _ in 0..400 {
            // (A call may have unmapped the scratch page: then a new process.)
            if !k.resident(SCRATCH) {
                break;
            }
            let mut scratch = [0u8; 4096];
            for chunk in scratch.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
            let path = PATHS[(rng.next() % PATHS.len() as u64) as usize];
            scratch[..path.len()].copy_from_slice(path);
            k.poke(SCRATCH, &scratch);
            let nr = rng.next() % 460;
            if SKIP.contains(&nr) {
                continue;
            }
            let args: [u64; 6] = core::array::from_fn(|_| arg(&mut rng));
            calls += 1;
            if !run_call(&mut p, &mut k, nr, &args) {
                break;
            }
        }
    }
    std::eprintln!("fuzz: {calls} calls");
    assert!(calls > 1000, "only {calls} calls made");
}
