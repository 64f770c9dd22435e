//! The cases: which program runs with which arguments, environment, stdin and machine.
//!
//! Names are `c/<label>/<flavour>/<machine>`, `rust/<label>/<machine>` and `busybox/<label>`;
//! they are what `known-failures.txt` lists. The "hello class" (the smallest programs) runs on
//! both machine types; everything else on microvm.

use crate::programs::{Flavour, Source};

pub(crate) const MICROVM: &str = "microvm";
pub(crate) const Q35: &str = "q35";

/// One program run, compared between the host and `coracle run`.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    /// The program, for the summary: `c/hello`, `rust/rust_hello`, `busybox/seq`.
    pub(crate) program: String,
    pub(crate) source: Source,
    pub(crate) args: Vec<Vec<u8>>,
    /// Variables given with `-e` on top of the defaults.
    pub(crate) env: Vec<(String, String)>,
    /// Bytes for stdin, given to `coracle run -i`; without them stdin is `/dev/null` on the
    /// host and at end of file in the guest.
    pub(crate) stdin: Option<Vec<u8>>,
    pub(crate) machine: &'static str,
    pub(crate) compare_stderr: bool,
    /// Compares uids, so the host side must run as root like the guest's program does.
    pub(crate) needs_root: bool,
}

/// A case before it is multiplied over flavours and machines.
#[derive(Debug, Clone)]
struct Spec {
    label: String,
    program: &'static str,
    args: Vec<Vec<u8>>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    both_machines: bool,
    compare_stderr: bool,
    needs_root: bool,
}

fn spec(program: &'static str) -> Spec {
    Spec {
        label: program.to_string(),
        program,
        args: Vec::new(),
        env: Vec::new(),
        stdin: None,
        both_machines: false,
        compare_stderr: true,
        needs_root: false,
    }
}

impl Spec {
    fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }
    fn args<A: AsRef<[u8]>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args = args.into_iter().map(|a| a.as_ref().to_vec()).collect();
        self
    }
    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }
    fn both_machines(mut self) -> Self {
        self.both_machines = true;
        self
    }
    /// Death by a signal may be reported on stderr by the tool; only stdout and status count.
    fn ignore_stderr(mut self) -> Self {
        self.compare_stderr = false;
        self
    }
    fn needs_root(mut self) -> Self {
        self.needs_root = true;
        self
    }

    fn machines(&self) -> &'static [&'static str] {
        if self.both_machines {
            &[MICROVM, Q35]
        } else {
            &[MICROVM]
        }
    }

    fn case(&self, name: String, program: String, source: Source, machine: &'static str) -> Case {
        Case {
            name,
            program,
            source,
            args: self.args.clone(),
            env: self.env.clone(),
            stdin: self.stdin.clone(),
            machine,
            compare_stderr: self.compare_stderr,
            needs_root: self.needs_root,
        }
    }
}

/// Every case, in report order. `now` (seconds since 1970) is what `clock` checks against.
pub(crate) fn all(now: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    let c_specs = c_specs(now);
    for flavour in Flavour::ALL {
        for spec in &c_specs {
            for &machine in spec.machines() {
                cases.push(spec.case(
                    format!("c/{}/{}/{machine}", spec.label, flavour.name()),
                    format!("c/{}", spec.program),
                    Source::C(spec.program, flavour),
                    machine,
                ));
            }
        }
    }
    for spec in rust_specs() {
        for &machine in spec.machines() {
            cases.push(spec.case(
                format!("rust/{}/{machine}", spec.label),
                format!("rust/{}", spec.program),
                Source::Rust(spec.program),
                machine,
            ));
        }
    }
    for spec in busybox_specs() {
        let program = format!("busybox/{}", String::from_utf8_lossy(&spec.args[0]));
        cases.push(spec.case(
            format!("busybox/{}", spec.label),
            program,
            Source::Busybox,
            MICROVM,
        ));
    }
    cases
}

/// Binary-unsafe channels would mangle these: NUL, LF, the framing escape 0xff followed by each
/// byte the stdin framing gives a meaning to, every byte value, and more than one buffer's worth.
pub(crate) fn tricky_stdin() -> Vec<u8> {
    let mut bytes = b"line one\n\xff\x00\x0a\xff\x01\xff\xff\x00\x00 no newline".to_vec();
    bytes.extend(0..=255u8);
    bytes.extend((0..20_000u32).map(|i| (i * 7 + i / 256) as u8));
    bytes.extend_from_slice(b"\xff");
    bytes
}

fn c_specs(now: u64) -> Vec<Spec> {
    let mut specs = vec![
        spec("hello").both_machines(),
        spec("args_env")
            .both_machines()
            .args(["first", "", "two words", "-x", "--flag=1", "ünïcödé", "*"])
            .env("COMPAT_A", "1")
            .env("COMPAT_B", "x=y z")
            .env("COMPAT_EMPTY", ""),
    ];
    for code in ["0", "1", "42", "255"] {
        specs.push(
            spec("exit_codes")
                .label(&format!("exit_codes-{code}"))
                .both_machines()
                .args([code]),
        );
    }
    specs.extend([
        spec("efault"),
        // With data waiting, Linux must look at the buffer: EFAULT rather than 0.
        spec("efault").label("efault-stdin").stdin(b"hello"),
        spec("kernel_store").ignore_stderr(),
        spec("null_deref").ignore_stderr(),
        spec("uname"),
        spec("isatty"),
        spec("stdio_buffering"),
        spec("clock").args([now.to_string()]),
        spec("ids").needs_root(),
        spec("big_output"),
        spec("stdin_echo").stdin(&tricky_stdin()),
        spec("stdin_echo").label("stdin_echo-empty").stdin(b""),
        spec("malloc_big"),
        spec("deep_stack_write"),
        spec("sse"),
    ]);
    specs
}

fn rust_specs() -> Vec<Spec> {
    vec![spec("rust_hello")
        .both_machines()
        .args(["3", "two words"])
        .env("COMPAT_RUST", "from -e")]
}

fn busybox_specs() -> Vec<Spec> {
    let bb = |label: &str, args: &[&str]| spec("busybox").label(label).args(args.iter());
    let text = b"pear\napple\nfig\n\xc3\xa9clair\nbanana\napple\n";
    vec![
        bb("echo", &["echo", "hello", "world"]),
        bb("true", &["true"]),
        bb("false", &["false"]),
        bb("printf", &["printf", "%s-%d\\n", "a", "5"]),
        bb("seq", &["seq", "1", "20"]),
        bb("expr", &["expr", "6", "*", "7"]),
        bb("basename", &["basename", "/a/b/c.txt", ".txt"]),
        bb("uname", &["uname", "-s", "-m"]),
        bb("env", &["env"]).env("COMPAT_X", "1"),
        bb("sh-arith", &["sh", "-c", "echo $((1+2))"]),
        bb("cat-stdin", &["cat"]).stdin(&tricky_stdin()),
        bb("wc-stdin", &["wc", "-c", "-l"]).stdin(&tricky_stdin()),
        bb("sha256sum-stdin", &["sha256sum"]).stdin(&tricky_stdin()),
        bb("sort-stdin", &["sort"]).stdin(text),
        bb("tr-stdin", &["tr", "a-z", "A-Z"]).stdin(text),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let cases = all(0);
        let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), cases.len());
        for name in names {
            assert!(
                !name.contains(char::is_whitespace) && !name.contains('#') && !name.contains('*'),
                "{name}"
            );
        }
    }

    #[test]
    fn the_expected_names_exist() {
        let cases = all(0);
        let has = |n: &str| cases.iter().any(|c| c.name == n);
        assert!(has("c/hello/musl/microvm"));
        assert!(has("c/hello/glibc-pie/q35"));
        assert!(has("c/exit_codes-255/glibc/q35"));
        assert!(!has("c/efault/musl/q35"));
        assert!(has("rust/rust_hello/q35"));
        assert!(has("busybox/seq"));
    }

    #[test]
    fn every_c_source_has_cases() {
        let used: BTreeSet<String> = c_specs(0).iter().map(|s| s.program.to_string()).collect();
        let dir = crate::programs::programs_dir();
        let sources: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                (path.extension()? == "c").then(|| path.file_stem()?.to_str().map(String::from))?
            })
            .collect();
        assert_eq!(used, sources);
    }

    #[test]
    fn stdin_exercises_the_framing() {
        let bytes = tricky_stdin();
        for pair in [[0xff, 0x00], [0xff, 0x01], [0xff, 0xff]] {
            assert!(bytes.windows(2).any(|w| w == pair));
        }
        assert_eq!(bytes.last(), Some(&0xff), "ends on the escape byte");
    }
}
