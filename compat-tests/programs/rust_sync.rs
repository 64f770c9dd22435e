//! rust_sync: std::sync between threads: mpsc channels (many producers, rendezvous, bounded,
//! timeouts, disconnection), Arc<Mutex> and poisoning, Condvar, RwLock, Barrier, atomics and
//! OnceLock. A panic hook prints panics without the thread's OS id, so stderr is the same on
//! every run.

use std::process::exit;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError, TrySendError};
use std::sync::{Arc, Barrier, Condvar, Mutex, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant};

static FAILURES: AtomicUsize = AtomicUsize::new(0);

fn check(what: &str, ok: bool) {
    println!("{what}: {}", if ok { "ok" } else { "FAILED" });
    if !ok {
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let name = thread::current().name().unwrap_or("<unnamed>").to_string();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("thread '{name}' panicked: {message}");
    }));
}

fn channels() {
    let (send, receive) = mpsc::channel::<u64>();
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let send = send.clone();
            thread::spawn(move || {
                for i in 0..1000 {
                    send.send(p * 1000 + i).unwrap();
                }
            })
        })
        .collect();
    drop(send);
    let (mut count, mut sum) = (0u64, 0u64);
    for v in receive.iter() {
        count += 1;
        sum += v;
    }
    for p in producers {
        p.join().unwrap();
    }
    println!("mpsc: received {count} messages summing to {sum}");
    check(
        "4 producers x 1000 messages, all received; the channel closed after",
        count == 4000 && sum == 3999 * 4000 / 2,
    );

    let (ping, ping_rx) = mpsc::sync_channel::<u32>(0);
    let (pong, pong_rx) = mpsc::sync_channel::<u32>(0);
    let echo = thread::spawn(move || {
        for v in ping_rx.iter() {
            pong.send(v + 1).unwrap();
        }
    });
    let mut v = 0;
    for _ in 0..500 {
        ping.send(v).unwrap();
        v = pong_rx.recv().unwrap() + 1;
    }
    drop(ping);
    echo.join().unwrap();
    check("500 rendezvous round trips (sync_channel(0))", v == 1000);

    let (bounded, bounded_rx) = mpsc::sync_channel::<u8>(2);
    bounded.try_send(1).unwrap();
    bounded.try_send(2).unwrap();
    check(
        "sync_channel(2): a third try_send is Full",
        matches!(bounded.try_send(3), Err(TrySendError::Full(3))),
    );
    let blocked = thread::spawn(move || bounded.send(3).is_ok());
    thread::sleep(Duration::from_millis(20));
    check("first out", bounded_rx.recv() == Ok(1));
    check(
        "a blocked send went through once there was room",
        blocked.join().unwrap(),
    );
    check(
        "then the rest in order",
        bounded_rx.recv() == Ok(2) && bounded_rx.recv() == Ok(3),
    );
    check("then disconnected", bounded_rx.recv().is_err());

    let (_keep, empty) = mpsc::channel::<u8>();
    check(
        "try_recv on an empty channel: Empty",
        empty.try_recv() == Err(TryRecvError::Empty),
    );
    let start = Instant::now();
    check(
        "recv_timeout(20 ms): Timeout",
        empty.recv_timeout(Duration::from_millis(20)) == Err(RecvTimeoutError::Timeout),
    );
    check(
        "after at least 20 ms",
        start.elapsed() >= Duration::from_millis(20),
    );
}

fn mutexes() {
    let shared = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..8u32)
        .map(|t| {
            let shared = shared.clone();
            thread::spawn(move || {
                for i in 0..1000 {
                    shared.lock().unwrap().push(t * 1000 + i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut all = shared.lock().unwrap().clone();
    all.sort_unstable();
    check(
        "Arc<Mutex<Vec>>: 8 x 1000 pushes, each value once",
        all.len() == 8000 && all.iter().enumerate().all(|(i, &v)| v as usize == i),
    );

    let poisoned = Arc::new(Mutex::new(5));
    let p = poisoned.clone();
    let r = thread::Builder::new()
        .name("poisoner".into())
        .spawn(move || {
            let _guard = p.lock().unwrap();
            panic!("panicking with the lock held");
        })
        .unwrap()
        .join();
    check("the panicking thread's join is Err", r.is_err());
    check("the mutex is poisoned", poisoned.is_poisoned());
    let value = match poisoned.lock() {
        Ok(_) => -1,
        Err(e) => *e.into_inner(),
    };
    check("lock() says so, and the data is still there", value == 5);

    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let pair = pair.clone();
            thread::spawn(move || {
                let (lock, cond) = &*pair;
                let guard = cond.wait_while(lock.lock().unwrap(), |n| *n < 3).unwrap();
                *guard
            })
        })
        .collect();
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(5));
        let (lock, cond) = &*pair;
        *lock.lock().unwrap() += 1;
        cond.notify_all();
    }
    let seen: Vec<u32> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    check(
        "Condvar::wait_while: 4 waiters woke once the count reached 3",
        seen.iter().all(|&n| n == 3),
    );
    let (lock, cond) = &*pair;
    let start = Instant::now();
    let (_g, timeout) = cond
        .wait_timeout_while(lock.lock().unwrap(), Duration::from_millis(20), |_| true)
        .unwrap();
    check(
        "Condvar::wait_timeout(20 ms) timed out",
        timeout.timed_out() && start.elapsed() >= Duration::from_millis(20),
    );

    let rw = Arc::new(RwLock::new((0u64, 0u64)));
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let rw = rw.clone();
            thread::spawn(move || {
                for _ in 0..2000 {
                    let mut g = rw.write().unwrap();
                    g.0 += 1;
                    g.1 += 1;
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let rw = rw.clone();
            thread::spawn(move || {
                (0..4000)
                    .filter(|_| {
                        let g = rw.read().unwrap();
                        g.0 != g.1
                    })
                    .count()
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let torn: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let g = rw.read().unwrap();
    check(
        "RwLock: no reader saw a half-done write, no write lost",
        torn == 0 && g.0 == 6000 && g.1 == 6000,
    );
}

fn barriers_and_atomics() {
    let barrier = Arc::new(Barrier::new(6));
    let leaders = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (barrier, leaders) = (barrier.clone(), leaders.clone());
            thread::spawn(move || {
                for _ in 0..100 {
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    check(
        "Barrier(6), 100 rounds: one leader per round",
        leaders.load(Ordering::SeqCst) == 100,
    );

    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                for _ in 0..100_000 {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    check(
        "atomic fetch_add from 8 threads: 800000",
        counter.load(Ordering::SeqCst) == 800_000,
    );

    static ONCE: OnceLock<u64> = OnceLock::new();
    static INITS: AtomicUsize = AtomicUsize::new(0);
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            thread::spawn(move || {
                *ONCE.get_or_init(|| {
                    INITS.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    i + 100
                })
            })
        })
        .collect();
    let values: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    check(
        "OnceLock: initialised once, every thread saw the same value",
        INITS.load(Ordering::SeqCst) == 1 && values.iter().all(|&v| v == values[0]),
    );
}

fn main() {
    quiet_panics();
    channels();
    mutexes();
    barriers_and_atomics();
    let failures = FAILURES.load(Ordering::Relaxed);
    if failures == 0 {
        println!("all checks passed");
    } else {
        println!("{failures} checks FAILED");
    }
    exit(i32::from(failures != 0));
}
