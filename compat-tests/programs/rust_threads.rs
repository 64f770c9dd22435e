//! rust_threads: std::thread: spawn and join with results, names and stack sizes, 64 threads
//! at once, scoped threads borrowing local data, park/unpark, thread-locals and their
//! destructors, sleep, and available_parallelism (compared with COMPAT_CPUS, which the harness
//! sets on each side to the number of CPUs the program may use there).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

static FAILURES: AtomicUsize = AtomicUsize::new(0);

fn check(what: &str, ok: bool) {
    println!("{what}: {}", if ok { "ok" } else { "FAILED" });
    if !ok {
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);

struct CountsDrops(Cell<u64>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static MINE: CountsDrops = const { CountsDrops(Cell::new(0)) };
}

fn main() {
    // Spawn and join with results.
    let handles: Vec<_> = (1..=8u64)
        .map(|n| thread::spawn(move || (1..=n * 1000).sum::<u64>()))
        .collect();
    let sums: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!("sums: {sums:?}");
    check(
        "8 threads returned their sums",
        sums.iter().enumerate().all(|(i, &s)| {
            let n = (i as u64 + 1) * 1000;
            s == n * (n + 1) / 2
        }),
    );

    // Names and a small stack.
    let named = thread::Builder::new()
        .name("worker-7".into())
        .stack_size(64 * 1024)
        .spawn(|| thread::current().name().map(str::to_string))
        .unwrap();
    let name = named.join().unwrap();
    println!("the named thread calls itself {name:?}");
    check(
        "Builder::name shows in thread::current()",
        name.as_deref() == Some("worker-7"),
    );
    check(
        "main is called main",
        thread::current().name() == Some("main"),
    );

    // 64 at once, all alive together, distinct ids.
    let alive = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let (alive, release) = (alive.clone(), release.clone());
            thread::spawn(move || {
                alive.fetch_add(1, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
                (i, thread::current().id())
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive.load(Ordering::SeqCst) < 64 && Instant::now() < deadline {
        thread::yield_now();
    }
    check(
        "64 threads alive at once",
        alive.load(Ordering::SeqCst) == 64,
    );
    release.store(true, Ordering::SeqCst);
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ids: BTreeSet<_> = results.iter().map(|(_, id)| format!("{id:?}")).collect();
    check(
        "each returned its index, with distinct thread ids",
        results.iter().enumerate().all(|(i, (j, _))| i == *j) && ids.len() == 64,
    );

    // Scoped threads borrow and mutate local data.
    let mut data: Vec<u64> = (0..10_000).collect();
    let total = std::sync::atomic::AtomicU64::new(0);
    thread::scope(|s| {
        for chunk in data.chunks_mut(1000) {
            let total = &total;
            s.spawn(move || {
                for x in chunk.iter_mut() {
                    *x *= 2;
                }
                total.fetch_add(chunk.iter().sum::<u64>(), Ordering::SeqCst);
            });
        }
    });
    println!(
        "scoped: total {}, data[9999] = {}",
        total.load(Ordering::SeqCst),
        data[9999]
    );
    check(
        "10 scoped threads doubled their chunks in place",
        total.load(Ordering::SeqCst) == 9999 * 10_000 && data[9999] == 19_998,
    );

    // park / unpark.
    let flag = Arc::new(AtomicBool::new(false));
    let parked = {
        let flag = flag.clone();
        thread::spawn(move || {
            let mut parks = 0u32;
            while !flag.load(Ordering::SeqCst) {
                thread::park();
                parks += 1;
            }
            parks >= 1 || flag.load(Ordering::SeqCst)
        })
    };
    thread::sleep(Duration::from_millis(20));
    flag.store(true, Ordering::SeqCst);
    parked.thread().unpark();
    check("a parked thread woke on unpark", parked.join().unwrap());
    let start = Instant::now();
    thread::park_timeout(Duration::from_millis(20));
    check(
        "park_timeout(20 ms) returned",
        start.elapsed() < Duration::from_secs(60),
    );

    // Thread-locals: each thread its own, destructors run when threads exit.
    MINE.with(|m| m.0.set(99));
    let handles: Vec<_> = (0..5u64)
        .map(|i| {
            thread::spawn(move || {
                let fresh = MINE.with(|m| m.0.get()) == 0;
                MINE.with(|m| m.0.set(i + 1));
                thread::sleep(Duration::from_millis(5));
                fresh && MINE.with(|m| m.0.get()) == i + 1
            })
        })
        .collect();
    let own = handles
        .into_iter()
        .filter_map(|h| h.join().ok())
        .filter(|&b| b)
        .count();
    check("5 threads each had their own thread-local", own == 5);
    check("main's is untouched", MINE.with(|m| m.0.get()) == 99);
    println!(
        "thread-local destructors run: {}",
        DROPPED.load(Ordering::SeqCst)
    );
    check(
        "each exited thread dropped its thread-local",
        DROPPED.load(Ordering::SeqCst) == 5,
    );

    let start = Instant::now();
    thread::sleep(Duration::from_millis(30));
    check(
        "sleep(30 ms) took at least 30 ms",
        start.elapsed() >= Duration::from_millis(30),
    );

    let parallelism = thread::available_parallelism().map(|n| n.get());
    match std::env::var("COMPAT_CPUS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        Some(cpus) => check(
            "available_parallelism is COMPAT_CPUS",
            parallelism.ok() == Some(cpus),
        ),
        None => println!("COMPAT_CPUS is not set: available_parallelism is not compared"),
    }

    let failures = FAILURES.load(Ordering::Relaxed);
    if failures == 0 {
        println!("all checks passed");
    } else {
        println!("{failures} checks FAILED");
    }
    exit(i32::from(failures != 0));
}
