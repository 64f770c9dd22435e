//! rust_hello: Rust's std on musl: args, an env var, collections, formatting, exit status.

use std::collections::HashMap;
use std::process::exit;

fn main() {
    println!("hello from rust");
    let args: Vec<String> = std::env::args().collect();
    for (i, arg) in args.iter().enumerate() {
        println!("arg[{i}]={arg:?}");
    }
    println!("COMPAT_RUST={:?}", std::env::var("COMPAT_RUST"));
    println!("HOME={:?}", std::env::var("HOME"));

    // HashMap's iteration order is random (seeded by getrandom): sort before printing.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in "the quick brown fox jumps over the lazy dog the end".split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort();
    let joined: Vec<String> = counts.iter().map(|(w, c)| format!("{w}:{c}")).collect();
    println!("{}", joined.join(","));

    let squares: Vec<u64> = (1..=10).map(|n| n * n).collect();
    println!("squares={squares:?} sum={}", squares.iter().sum::<u64>());
    println!("sqrt2={:.6}", 2f64.sqrt());
    let boxed: Box<[u8]> = vec![7u8; 1 << 20].into_boxed_slice();
    println!("boxed len={} sum={}", boxed.len(), boxed.iter().map(|&b| u64::from(b)).sum::<u64>());
    eprintln!("to stderr");

    let code = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    exit(code);
}
