//! `docs/syscalls.md`, the published list of implemented system calls, generated from the
//! table, and the test that keeps the checked-in file current.

use alloc::string::String;
use core::fmt::Write;

use crate::names::not_implemented;
use crate::table::implemented;

/// The command that rewrites the checked-in file.
const REFRESH: &str = "CORACLE_UPDATE_DOCS=1 cargo test -p coracle-syscalls syscalls_md";

/// The document, as `docs/syscalls.md` should hold it.
fn render() -> String {
    let done = implemented();
    let missing = not_implemented();
    let mut s = String::new();
    let _ = writeln!(s, "# System calls\n");
    let _ = writeln!(
        s,
        "Generated from the table in `syscalls/src/table.rs` (its `///` notes); do not edit.\n\
         Refresh with `{REFRESH}`.\n"
    );
    let _ = writeln!(
        s,
        "Coracle implements {} of the {} Linux x86_64 system calls. The others return \
         `ENOSYS`, and the first call of each is logged by name (`--verbose`).\n",
        done.len(),
        done.len() + missing.len()
    );
    let _ = writeln!(s, "| number | name | arguments | notes |");
    let _ = writeln!(s, "|---:|---|---|---|");
    for call in done {
        // stringify! spacing differs between compilers: say it one way.
        let decoded = call.args.replace(" :", ":");
        let args = if call.regs && call.args.is_empty() {
            String::from("registers")
        } else if call.regs {
            alloc::format!("registers, `{decoded}`")
        } else if call.args.is_empty() {
            String::new()
        } else {
            alloc::format!("`{decoded}`")
        };
        let notes: alloc::vec::Vec<&str> = call.notes.iter().map(|n| n.trim()).collect();
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} |",
            call.nr,
            call.name,
            args,
            notes.join(" ")
        );
    }
    let _ = writeln!(s, "\n## Not implemented\n");
    let names: alloc::vec::Vec<String> = missing
        .iter()
        .map(|(nr, name)| alloc::format!("`{name}` ({nr})"))
        .collect();
    let _ = writeln!(s, "{}", names.join(", "));
    s
}

#[test]
fn syscalls_md_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/syscalls.md");
    let want = render();
    if std::env::var_os("CORACLE_UPDATE_DOCS").is_some() {
        std::fs::write(path, &want).expect("write docs/syscalls.md");
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/syscalls.md does not match the table in syscalls/src/table.rs; \
         refresh it with `{REFRESH}` and commit it"
    );
}
