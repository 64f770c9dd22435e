//! The cases: which program runs with which arguments, environment, stdin and machine.
//!
//! Names are `c/<label>/<flavour>/<machine>`, `rust/<label>/<machine>`, `busybox/<label>`
//! and `rootfs/<label>`; they are what `known-failures.txt` lists. The "hello class" (the
//! smallest programs) runs on both machine types; everything else on microvm.
//!
//! The `fs_*` C programs work in a scratch directory given as argv[1] (`Place::Scratch`); the
//! `rootfs/` cases run busybox applets inside the test root filesystem (`Place::Rootfs`).

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
    pub(crate) place: Place,
}

/// Where a case's program runs, and what that adds to its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// As it is: the host runs it directly, the guest with `coracle run PROGRAM`.
    Direct,
    /// Like `Direct`, with a directory to work in as argv[1]: a fresh one under `/dev/shm`
    /// (tmpfs) on the host (`scratch`), `/tmp` (tmpfs) in the guest.
    Scratch,
    /// Inside a fresh test root filesystem (`rootfs`) with `/` as the working directory, as
    /// `command` (a path in it, or a name looked up in its PATH) followed by the arguments:
    /// `chroot ROOT` on the host, `coracle run ROOT` in the guest.
    Rootfs { command: String },
}

/// The working directory given to `Place::Scratch` programs in the guest.
pub(crate) const GUEST_SCRATCH: &str = "/tmp";

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
    place: Place,
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
        place: Place::Direct,
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
    /// argv[1] is a scratch directory (see `Place::Scratch`).
    fn scratch(mut self) -> Self {
        self.place = Place::Scratch;
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
            place: self.place.clone(),
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
    for spec in rootfs_specs() {
        let Place::Rootfs { command } = &spec.place else {
            unreachable!("rootfs_specs makes rootfs cases")
        };
        let applet = match command.rsplit('/').next() {
            Some("busybox") => String::from_utf8_lossy(&spec.args[0]).into_owned(),
            name => name.unwrap_or_default().to_string(),
        };
        cases.push(spec.case(
            format!("rootfs/{}", spec.label),
            format!("rootfs/{applet}"),
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
        spec("vdso_clock").args([now.to_string()]),
        spec("ids").needs_root(),
        spec("big_output"),
        spec("stdin_echo").stdin(&tricky_stdin()),
        spec("stdin_echo").label("stdin_echo-empty").stdin(b""),
        spec("malloc_big"),
        spec("deep_stack_write"),
        spec("sse"),
    ]);
    // The file-system programs, each in a scratch directory. Most print owners, or depend on
    // root's privileges (chown, mknod, linkat(AT_EMPTY_PATH), access, mount): they need root.
    for program in ["fs_paths", "fs_fds", "fs_errno", "fs_many", "fs_memfd"] {
        specs.push(spec(program).scratch());
    }
    for program in [
        "fs_files",
        "fs_dirs",
        "fs_links",
        "fs_rename",
        "fs_meta",
        "fs_pipes",
        "fs_dev",
        "fs_proc",
        "fs_mount",
    ] {
        specs.push(spec(program).scratch().needs_root());
    }
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

/// Busybox applets in the test root filesystem, one process each (no fork yet): their output
/// shows the file system as the applet sees it. `sh -c` cases use only builtins, redirections
/// and globs (ash forks for anything else). Arguments are split at spaces, except in `sh`.
fn rootfs_specs() -> Vec<Spec> {
    let argv = |label: &str, command: &str, args: &[&str]| Spec {
        place: Place::Rootfs {
            command: command.to_string(),
        },
        ..spec("busybox").label(label).args(args.iter())
    };
    let via = |label: &str, command: &str, args: &str| {
        argv(label, command, &args.split(' ').collect::<Vec<_>>())
    };
    let bb = |label: &str, args: &str| via(label, "/bin/busybox", args);
    let sh = |label: &str, script: &str| argv(label, "/bin/sh", &["-c", script]);
    vec![
        bb("cat", "cat /data/fruits.txt /data/notes.txt /etc/passwd"),
        via(
            "cat-symlink",
            "/bin/cat",
            "/data/link /data/nested/deeper/leaf.txt",
        ),
        via("cat-by-name", "cat", "/data/nested/notes-link"),
        bb(
            "cat-errors",
            "cat /data/missing /data/nested /data/empty /data/dated.txt",
        ),
        bb("ls", "ls"),
        bb("ls-l", "ls -l /data"),
        via("ls-la", "/bin/ls", "-la /data/nested /data/nested/deeper"),
        bb("ls-lR", "ls -lR /data"),
        bb("ls-ln", "ls -ln /data"),
        bb("ls-lt", "ls -lt --full-time /data"),
        bb("ls-1aF", "ls -1aF /data /bin"),
        bb("ls-l-bin", "ls -l /bin"),
        bb(
            "ls-ld",
            "ls -ld /bin /data /etc /root /data/link /data/dangling",
        ),
        bb("ls-ld-root", "ls -ld /"),
        bb("ls-missing", "ls -l /data/missing /data/empty"),
        bb("find", "find /data"),
        bb("find-name", "find /data -type f -name *.txt"),
        bb("find-links", "find /data -type l -o -links 2"),
        bb(
            "find-newer",
            "find /data -maxdepth 1 -type f -newer /data/dated.txt",
        ),
        bb("find-perm", "find /data -perm -100"),
        bb("grep-r", "grep -rn apple /data"),
        bb(
            "grep-c",
            "grep -c -i -e APPLE /data/fruits.txt /data/notes.txt /data/missing",
        ),
        bb("sed", "sed -n -e s/a/A/gp -e $= /data/fruits.txt"),
        argv(
            "awk",
            "/bin/awk",
            &[
                "-F,",
                "NR > 1 { s += $2; print NR \": \" $1 } END { print \"total\", s }",
                "/data/numbers.csv",
            ],
        ),
        via(
            "sort-fields",
            "/bin/sort",
            "-t, -k2,2n -k1,1r /data/numbers.csv",
        ),
        bb("sort-u", "sort -u /data/fruits.txt /data/fruits-v2.txt"),
        bb("uniq-c", "uniq -c /data/fruits.txt"),
        bb("tar-tvf", "tar -tvf /data/archive.tar"),
        bb("tar-xvf", "tar -xvf /data/archive.tar -C /tmp"),
        bb(
            "tar-xO",
            "tar -xOf /data/archive.tar tarred/sub/b.txt tarred/a.txt",
        ),
        bb("tar-cf", "tar -cf - -C /data nested dated.txt link"),
        bb("tar-cf-data", "tar -cf - /data"),
        bb("gzip-c", "gzip -c /data/notes.txt"),
        bb("gunzip-c", "gunzip -c /data/fruits.txt.gz"),
        // Not zcat: busybox's zcat forks a decompressor.
        via("gunzip-symlink", "/bin/gunzip", "-c /data/fruits.txt.gz"),
        bb(
            "md5sum",
            "md5sum /data/fruits.txt /data/binary.bin /data/empty /bin/busybox",
        ),
        bb("md5sum-c", "md5sum -c /data/sums.md5"),
        bb("sha256sum", "sha256sum /data/notes.txt /data/archive.tar"),
        bb(
            "stat-c",
            "stat -c %n|%s|%a|%A|%U|%G|%u|%g|%h|%F|%Y|%y /data/dated.txt /data/link \
             /data/nested /data/owned /data/empty /data/notes.txt /",
        ),
        via("stat-L", "/bin/stat", "-L -c %N|%F|%s /data/link"),
        bb("stat-f", "stat -f -c %T|%l|%S /data"),
        bb("readlink", "readlink /data/dangling"),
        bb("readlink-applet", "readlink /bin/sh"),
        bb("readlink-f", "readlink -f /data/nested/../link"),
        bb(
            "readlink-f-dangling",
            "readlink -f /data/nested/deeper/../../dangling",
        ),
        bb("readlink-file", "readlink /data/fruits.txt"),
        bb(
            "realpath",
            "realpath /data/nested/deeper/.. /data/link /bin/cat",
        ),
        bb("ln-sv", "ln -sv /data/fruits.txt /tmp/new-link"),
        bb("ln-exists", "ln -s x /data/link"),
        bb("chmod-v", "chmod -v 600 /data/notes.txt /data/run.sh"),
        bb("chown-v", "chown -v 1000:100 /data/empty"),
        bb("wc", "wc /data/fruits.txt /data/notes.txt /data/binary.bin"),
        bb("od-c", "od -c /data/notes.txt"),
        bb("hexdump-C", "hexdump -C /data/binary.bin"),
        bb("xxd", "xxd -l 64 /data/archive.tar"),
        bb("head", "head -n 2 /data/fruits.txt /data/notes.txt"),
        bb("tail", "tail -n 3 /data/notes.txt"),
        bb("tail-c", "tail -c 20 /data/fruits.txt"),
        via("cut", "/bin/cut", "-d, -f1,3 /data/numbers.csv"),
        bb("tr-stdin", "tr -d aeiou").stdin(b"pear\napple\nbanana\n"),
        bb("du-a", "du -a /data"),
        bb("du-s", "du -s /data /bin"),
        bb("cmp", "cmp /data/fruits.txt /data/fruits-v2.txt"),
        bb("diff-u", "diff -u /data/fruits.txt /data/fruits-v2.txt"),
        bb("nl", "nl /data/notes.txt"),
        bb("tac", "tac /data/fruits.txt"),
        bb("base64", "base64 /data/binary.bin"),
        bb(
            "dd",
            "dd if=/data/binary.bin bs=16 skip=2 count=2 status=none",
        ),
        bb("whoami", "whoami"),
        bb("test-L", "test -L /data/link"),
        bb("test-e-dangling", "test -e /data/dangling"),
        sh(
            "sh-read-loop",
            "while read -r l; do echo \"[$l]\"; done < /data/fruits.txt",
        ),
        sh(
            "sh-glob",
            "for f in /data/* /data/.* /data/n*/*; do echo \"$f\"; done",
        ),
        sh(
            "sh-redirect",
            "echo one > /tmp/f; echo two >> /tmp/f; { read a; read b; } < /tmp/f; echo \"$a $b\"; \
             echo x > /data/nested/deeper/new; read c < /data/nested/deeper/new; echo $c; \
             echo > /missing/file; echo status $?",
        ),
        sh(
            "sh-noclobber",
            "set -C; echo a > /data/empty; echo status $?; echo b >| /data/empty; \
             read x < /data/empty; echo $x; echo c > /tmp/new; read y < /tmp/new; echo $y",
        ),
        sh(
            "sh-cd",
            "pwd; cd /data/nested/deeper && pwd; cd ..; pwd; cd /data/link; echo $?; \
             cd -P /bin; pwd; cd /missing; echo $?",
        ),
        sh(
            "sh-type",
            "type cat ls busybox; command -v awk; type missing-cmd; echo $?",
        ),
        sh(
            "sh-test",
            "for t in '-L /data/link' '-h /data/dangling' '-f /data/link' '-e /data/dangling' \
             '-d /data/nested' '-x /data/run.sh' '-s /data/empty' '-r /data/owned' \
             '/data/dated.txt -ot /data/fruits.txt' '/data/notes.txt -ef /data/nested/notes-link'; \
             do if test $t; then echo \"$t: yes\"; else echo \"$t: no\"; fi; done",
        ),
        sh(
            "sh-fds",
            "exec 3< /data/notes.txt; read -r x <&3; read -r y <&3; echo \"$x|$y\"; exec 3<&-; \
             read z <&3; echo status $?",
        ),
        sh(
            "sh-heredoc",
            "read a b <<EOF\nfirst second\nEOF\necho \"$b $a\"",
        ),
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
        assert!(has("c/fs_files/glibc-pie/microvm"));
        assert!(!has("c/fs_files/musl/q35"));
        assert!(has("rootfs/ls-l"));
    }

    #[test]
    fn places() {
        let cases = all(0);
        let place = |n: &str| &cases.iter().find(|c| c.name == n).unwrap().place;
        assert_eq!(place("c/hello/musl/microvm"), &Place::Direct);
        assert_eq!(place("c/fs_many/musl/microvm"), &Place::Scratch);
        for case in cases.iter().filter(|c| c.program.starts_with("c/fs_")) {
            assert_eq!(case.place, Place::Scratch, "{}", case.name);
        }
        let program = |n: &str| cases.iter().find(|c| c.name == n).unwrap().program.clone();
        assert_eq!(program("rootfs/cat-symlink"), "rootfs/cat");
        assert_eq!(program("rootfs/tar-tvf"), "rootfs/tar");
        assert_eq!(program("rootfs/sh-glob"), "rootfs/sh");
    }

    #[test]
    fn rootfs_commands_exist_in_the_rootfs() {
        for case in all(0) {
            if let Place::Rootfs { command } = &case.place {
                let name = command.strip_prefix("/bin/").unwrap_or(command);
                assert!(
                    name == "busybox" || crate::rootfs::APPLETS.contains(&name),
                    "{}: add {name} to rootfs::APPLETS",
                    case.name
                );
            }
        }
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
