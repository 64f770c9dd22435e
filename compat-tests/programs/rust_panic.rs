//! rust_panic: panics in threads: caught by join (with &str and String payloads), inside
//! thread::scope, with catch_unwind in main; then, by argv[1], the program ends normally
//! ("caught", status 0) or with a panic in main ("main", status 101). The panic hook prints the thread's name, the message and the source line,
//! without the OS thread id std's default hook adds, so stderr is the same on every run.

use std::panic;
use std::process::exit;
use std::thread;

fn hook(info: &panic::PanicHookInfo<'_>) {
    let name = thread::current().name().unwrap_or("<unnamed>").to_string();
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let line = info.location().map_or(0, |l| l.line());
    eprintln!("thread '{name}' panicked at line {line}: {message}");
}

fn payload(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "?".into())
}

fn main() {
    panic::set_hook(Box::new(hook));
    let mut failures = 0;
    let mut check = |what: &str, ok: bool| {
        println!("{what}: {}", if ok { "ok" } else { "FAILED" });
        failures += usize::from(!ok);
    };

    let joined = thread::Builder::new()
        .name("worker".into())
        .spawn(|| -> u32 { panic!("static message") })
        .unwrap()
        .join();
    let text = joined.as_ref().map_or_else(payload, |_| String::new());
    println!("join: Err with {text:?}");
    check(
        "a thread's panic comes back from join as Err(&str)",
        text == "static message",
    );

    let formatted = thread::spawn(|| -> u32 {
        let n = 6 * 7;
        panic!("formatted {n}")
    })
    .join();
    let text = formatted.as_ref().map_or_else(payload, |_| String::new());
    println!("join: Err with {text:?}");
    check("and as Err(String) when formatted", text == "formatted 42");

    let survivors = thread::spawn(|| 5u32).join();
    check(
        "a thread that does not panic still joins Ok",
        survivors.ok() == Some(5),
    );

    let scoped = panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| 1);
            thread::Builder::new()
                .name("scoped".into())
                .spawn_scoped(s, || panic!("in a scope"))
                .unwrap();
        })
    });
    check(
        "a panic in a scoped thread makes thread::scope panic after joining",
        scoped.is_err(),
    );

    let caught = panic::catch_unwind(|| {
        let v: Vec<u8> = Vec::new();
        v[3]
    });
    check(
        "catch_unwind in main caught an index out of bounds",
        caught.is_err(),
    );

    let how = std::env::args().nth(1).unwrap_or_else(|| "caught".into());
    println!("ending: {how}");
    match how.as_str() {
        "main" => {
            let r: Result<u8, &str> = Err("the end");
            r.expect("main gives up");
        }
        _ => {}
    }
    exit(i32::from(failures != 0));
}
