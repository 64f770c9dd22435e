//! Container images end to end: Dockerfiles kept in tests/images/ built with `coracle build`
//! (buildah), then run in Coracle from every source format — Coracle's store, an OCI layout
//! directory, OCI and Docker archives, buildah's storage, and a local `docker-registry` on
//! 127.0.0.1 — with Docker's semantics for the config and Docker's exit statuses.
//!
//! Needs buildah, skopeo and docker-registry (installed by .ci/run and the README's first
//! command). Each test has its own image store (XDG_DATA_HOME) and image names, so they run in
//! parallel; the buildah images they make are removed at the end.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What the app image's CMD prints (see tests/images/app/Dockerfile).
fn expected(flavour: &str) -> String {
    format!(
        "hello from /srv/app as 0\nhello.txt from the build context\n{flavour}\nupper\n\
         ls: /etc/motd: No such file or directory\n4755 2\n"
    )
}

struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("coracle-images-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `coracle ARGS` with this test's image store.
    fn coracle(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args(args)
            .env("XDG_DATA_HOME", self.data())
            .env_remove("CORACLE_QEMU")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run coracle")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{cmd:?}: {e} (apt-get install buildah skopeo docker-registry)")
    });
    check(&out, &format!("{cmd:?}"));
    out
}

fn buildah() -> Command {
    let mut c = Command::new("buildah");
    c.arg("--storage-driver").arg("vfs");
    c
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images")
}

/// The base image, built once per test process into buildah's storage and named
/// `coracle-test-base-PID`; removed from buildah's storage when the process ends is not
/// possible from a test, so each build replaces the last one of the same name.
fn base_image() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let scratch =
            std::env::temp_dir().join(format!("coracle-images-base-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).unwrap();
        for f in ["Dockerfile", "passwd", "group"] {
            std::fs::copy(source_dir().join("base").join(f), scratch.join(f)).unwrap();
        }
        std::fs::copy("/bin/busybox", scratch.join("busybox"))
            .expect("/bin/busybox: apt-get install busybox-static");
        let name = format!("localhost/coracle-test-base-{}:latest", std::process::id());
        run(buildah()
            .args([
                "bud",
                "--isolation",
                "chroot",
                "--layers=false",
                "-t",
                &name,
            ])
            .arg(&scratch));
        let _ = std::fs::remove_dir_all(&scratch);
        name
    })
}

/// Removes a buildah image made by a test.
struct BuildahImage(String);

impl Drop for BuildahImage {
    fn drop(&mut self) {
        let _ = buildah().args(["rmi", "-f", &self.0]).output();
    }
}

/// Builds tests/images/app/`dockerfile` FROM the base with `coracle build -t name`.
fn build_app(s: &Scratch, name: &str, dockerfile: &str, build_args: &[&str]) -> BuildahImage {
    let mut args = vec!["build", "-t", name, "-f"];
    let file = source_dir().join("app").join(dockerfile);
    args.push(file.to_str().unwrap());
    let base = format!("BASE={}", base_image());
    args.extend(["--build-arg", &base]);
    for a in build_args {
        args.extend(["--build-arg", a]);
    }
    let context = source_dir().join("app");
    args.push(context.to_str().unwrap());
    let out = s.coracle(&args);
    check(&out, "coracle build");
    BuildahImage(format!("docker.io/library/{name}:latest"))
}

#[test]
fn build_then_run_from_every_source() {
    let s = Scratch::new("sources");
    let name = format!("coracle-test-app-{}", std::process::id());
    let _image = build_app(&s, &name, "Dockerfile", &["FLAVOUR=special"]);
    let want = expected("special");

    let out = s.coracle(&["run", &name]);
    check(&out, "coracle run NAME");
    assert_eq!(text(&out.stdout), want);
    let listed = text(&s.coracle(&["images"]).stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("latest")),
        "{listed}"
    );

    // The same image exported by buildah in each format, run from there.
    let full = format!("docker.io/library/{name}:latest");
    let oci_dir = s.dir.join("layout");
    let oci_archive = s.dir.join("oci.tar");
    let docker_archive = s.dir.join("docker.tar");
    for dest in [
        format!("oci:{}:v1", oci_dir.display()),
        format!("oci-archive:{}", oci_archive.display()),
        format!("docker-archive:{}:app:1", docker_archive.display()),
    ] {
        run(buildah().args(["push", "--quiet", &full, &dest]));
    }
    for source in [
        format!("oci:{}:v1", oci_dir.display()),
        format!("oci-archive:{}", oci_archive.display()),
        format!("docker-archive:{}", docker_archive.display()),
        format!("containers-storage:{full}"),
    ] {
        let out = s.coracle(&["run", &source]);
        check(&out, &source);
        assert_eq!(text(&out.stdout), want, "{source}");
    }
    // A relative archive path is relative to the current directory.
    let out = s.coracle(&["run", "oci-archive:oci.tar", "echo relative"]);
    assert_eq!(text(&out.stdout), "relative\n");

    // docker load's names: pull -t / the archive's RepoTags.
    check(
        &s.coracle(&[
            "pull",
            &format!("docker-archive:{}", docker_archive.display()),
        ]),
        "pull",
    );
    let out = s.coracle(&["run", "app:1", "cat /opt/replaced"]);
    assert_eq!(text(&out.stdout), "upper\n");
}

#[test]
fn docker_run_semantics_and_statuses() {
    let s = Scratch::new("semantics");
    let name = format!("coracle-test-sem-{}", std::process::id());
    let _image = build_app(&s, &name, "Dockerfile", &[]);
    let stdout = |args: &[&str]| {
        let out = s.coracle(args);
        check(&out, &format!("{args:?}"));
        text(&out.stdout)
    };
    assert_eq!(stdout(&["run", &name]), expected("plain"));
    // Trailing arguments replace CMD; -e, --env-file and -w as docker run.
    std::fs::write(s.dir.join("env"), "FROM_FILE=file\nGREETING=file\n").unwrap();
    assert_eq!(
        stdout(&[
            "run",
            "--env-file",
            "env",
            "-e",
            "GREETING=flag",
            "-w",
            "/tmp",
            &name,
            "echo $GREETING $FROM_FILE $(pwd) $HOME $PATH"
        ]),
        "flag file /tmp /root /usr/local/bin:/bin\n"
    );
    // --entrypoint replaces ENTRYPOINT and drops CMD.
    assert_eq!(
        stdout(&["run", "--entrypoint", "/bin/echo", &name, "a", "b"]),
        "a b\n"
    );
    assert_eq!(
        stdout(&["run", "--entrypoint", "", &name, "echo", "plain"]),
        "plain\n"
    );
    assert_eq!(
        stdout(&["run", "-u", "root", &name, "id -u; id -g"]),
        "0\n0\n"
    );
    // Statuses: the program's own, 127 not found, 126 not executable, 125 Coracle's.
    assert_eq!(s.coracle(&["run", &name, "exit 3"]).status.code(), Some(3));
    assert_eq!(
        s.coracle(&["run", "--entrypoint", "/nope", &name])
            .status
            .code(),
        Some(127)
    );
    assert_eq!(
        s.coracle(&["run", "--entrypoint", "nope", &name])
            .status
            .code(),
        Some(127)
    );
    assert_eq!(
        s.coracle(&["run", "--entrypoint", "/srv/app/hello.txt", &name])
            .status
            .code(),
        Some(126)
    );
    assert_eq!(
        s.coracle(&["run", "--entrypoint", "/srv", &name])
            .status
            .code(),
        Some(126)
    );
    let out = s.coracle(&["run", "-u", "nobody", &name]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("unable to find user nobody"),
        "{}",
        text(&out.stderr)
    );
    let out = s.coracle(&["run", "-w", "/srv/app/hello.txt", &name]);
    assert_eq!(out.status.code(), Some(125));

    // inspect shows what the Dockerfile declared.
    let inspect: serde_json::Value =
        serde_json::from_slice(&s.coracle(&["inspect", &name]).stdout).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(config["Labels"]["org.example.test"], "yes");
    assert_eq!(config["StopSignal"], "SIGQUIT");
    assert_eq!(config["WorkingDir"], "/srv/app");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));

    // tag and rmi; a removed bare name is no longer an image (and not a host program).
    check(&s.coracle(&["tag", &name, "other:v2"]), "tag");
    assert_eq!(stdout(&["run", "other:v2", "echo tagged"]), "tagged\n");
    check(&s.coracle(&["rmi", &name, "other:v2"]), "rmi");
    assert_eq!(s.coracle(&["run", &name]).status.code(), Some(127));
    assert_eq!(s.coracle(&["rmi", &name]).status.code(), Some(1));
    let blobs = std::fs::read_dir(s.data().join("coracle/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "rmi of the last name removes the blobs");
}

/// What the user test runs, everything on stdout: ids, root's files, HOME, writes.
const AS_USER: &str = "id; cat /secret; cat /private; echo HOME=$HOME; touch /new; \
     echo mine > /home/app/f && cat /home/app/f; grep -E '^(Uid|Gid|Groups)' /proc/self/status";

/// A non-root USER (and `-u`) runs the program as that user, as `buildah run` does: it
/// cannot read root's 0640 and 0600 files nor write to `/`; `-u 0` is root again.
#[test]
fn non_root_user_runs_as_that_user() {
    let s = Scratch::new("user");
    let name = format!("coracle-test-user-{}", std::process::id());
    let image = build_app(&s, &name, "Dockerfile.user", &[]);
    let script = format!("{{ {AS_USER}; }} 2>&1");
    let out = s.coracle(&["run", &name, "sh", "-c", &script]);
    let ours = text(&out.stdout);
    // The same image under buildah on the host.
    let container = text(&run(buildah().args(["from", &image.0])).stdout)
        .trim()
        .to_string();
    let theirs = buildah()
        .args([
            "run",
            "--isolation",
            "chroot",
            &container,
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let _ = buildah().args(["rm", &container]).output();
    assert_eq!(ours, text(&theirs.stdout), "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), theirs.status.code());
    assert!(ours.contains("uid=1000(app) gid=1000(app)"), "{ours}");
    assert!(ours.contains("Permission denied"), "{ours}");
    // Packed, the image keeps its user: the packed file's launch records name uid 1000.
    let packed = s.coracle(&["pack", &name, "-o", "user.img", "sh", "-c", &script]);
    check(&packed, "coracle pack of a non-root image");
    let out = s.coracle(&["run", "user.img"]);
    assert_eq!(text(&out.stdout), ours, "packed: {}", text(&out.stderr));
    // -u picks another user or root.
    let out = s.coracle(&["run", "-u", "0", &name, "sh", "-c", "id -u; cat /private"]);
    check(&out, "-u 0");
    assert_eq!(text(&out.stdout), "0\nprivate\n");
    let out = s.coracle(&[
        "run",
        "-u",
        "1000:10",
        &name,
        "sh",
        "-c",
        "id -u; id -g; cat /secret",
    ]);
    assert_eq!(text(&out.stdout), "1000\n10\n");
    assert_eq!(out.status.code(), Some(1));
}

/// Debian's `docker-registry` on a free 127.0.0.1 port, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: Scratch,
}

impl Registry {
    fn start() -> Registry {
        let dir = Scratch::new("registry");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.dir.join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry: apt-get install docker-registry");
        let registry = Registry {
            child,
            port,
            _dir: dir,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "docker-registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pull_and_run_from_a_local_registry() {
    let s = Scratch::new("registry-client");
    let name = format!("coracle-test-reg-{}", std::process::id());
    let _image = build_app(&s, &name, "Dockerfile", &[]);
    let registry = Registry::start();
    let remote = format!("127.0.0.1:{}/test/app:1.0", registry.port);
    run(buildah().args([
        "push",
        "--quiet",
        "--tls-verify=false",
        &format!("docker.io/library/{name}:latest"),
        &format!("docker://{remote}"),
    ]));
    // A fresh store: `run` of an explicit reference pulls it, as docker run does.
    let fresh = Scratch::new("registry-fresh");
    let out = fresh.coracle(&["run", &remote]);
    check(&out, "run REF");
    assert_eq!(text(&out.stdout), expected("plain"));
    assert!(
        text(&out.stderr).contains("Unable to find image"),
        "{}",
        text(&out.stderr)
    );
    // pull, then by digest.
    let out = fresh.coracle(&["pull", &remote]);
    check(&out, "pull");
    let pulled = text(&out.stdout);
    let digest = pulled
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap()
        .to_owned();
    let by_digest = format!("127.0.0.1:{}/test/app@{digest}", registry.port);
    let out = fresh.coracle(&["run", &by_digest, "cat /opt/replaced"]);
    check(&out, "run by digest");
    assert_eq!(text(&out.stdout), "upper\n");
    // A tag the registry does not have.
    let out = fresh.coracle(&[
        "pull",
        &format!("127.0.0.1:{}/test/app:nope", registry.port),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
}

/// A dynamically linked program (the host's glibc `ls`, with the libraries `ldd` names) in a
/// `FROM scratch` image runs through the image's own ld.so.
#[test]
fn dynamic_program_from_an_image() {
    let s = Scratch::new("dynamic");
    let root = s.dir.join("context/root");
    let ldd = run(Command::new("ldd").arg("/bin/ls"));
    let libs = text(&ldd.stdout);
    let files =
        std::iter::once("/bin/ls").chain(libs.split_whitespace().filter(|w| w.starts_with('/')));
    for file in files {
        let dest = root.join(file.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(file, &dest).unwrap();
    }
    std::fs::write(
        s.dir.join("context/Dockerfile"),
        "FROM scratch\nCOPY root/ /\nENTRYPOINT [\"/bin/ls\"]\nCMD [\"-a\", \"/\"]\n",
    )
    .unwrap();
    let name = format!("coracle-test-dyn-{}", std::process::id());
    let context = s.dir.join("context");
    check(
        &s.coracle(&["build", "-t", &name, context.to_str().unwrap()]),
        "build",
    );
    let _image = BuildahImage(format!("docker.io/library/{name}:latest"));
    let out = s.coracle(&["run", &name, "/bin"]);
    check(&out, "run");
    assert_eq!(text(&out.stdout), "ls\n");
}

/// `coracle pack`: the file is the same for the same image, `coracle run FILE` runs it with
/// the run's options, and the QEMU command `coracle pack` prints boots it alone.
#[test]
fn packed_image_runs_and_boots_under_plain_qemu() {
    let s = Scratch::new("pack");
    let name = format!("coracle-test-pack-{}", std::process::id());
    let _image = build_app(&s, &name, "Dockerfile", &["FLAVOUR=packed"]);
    let want = expected("packed");

    let packed = s.coracle(&["pack", &name, "-o", "app.img"]);
    check(&packed, "coracle pack");
    check(
        &s.coracle(&["pack", &name, "-o", "again.img"]),
        "pack again",
    );
    let bytes = std::fs::read(s.dir.join("app.img")).unwrap();
    assert!(
        bytes == std::fs::read(s.dir.join("again.img")).unwrap(),
        "two packs of one image differ"
    );

    let out = s.coracle(&["run", "app.img"]);
    check(&out, "coracle run FILE");
    assert_eq!(text(&out.stdout), want);
    // Trailing arguments follow the Entrypoint (/bin/sh -c); -e and -w apply.
    let out = s.coracle(&[
        "run",
        "-e",
        "X=1",
        "-w",
        "/opt",
        "app.img",
        "echo $X $GREETING; pwd",
    ]);
    check(&out, "run FILE ARGS");
    assert_eq!(text(&out.stdout), "1 hello\n/opt\n");
    let out = s.coracle(&["run", "-u", "1000", "app.img"]);
    assert_eq!(out.status.code(), Some(125), "-u on a packed image");

    // The command pack printed, run by the shell as a user would.
    let plain = plain_boot(&s, &packed);
    assert_eq!(
        plain.status.code(),
        Some(1),
        "QEMU's status after a clean exit"
    );
    assert_eq!(
        text(&plain.stdout),
        want,
        "stderr:\n{}",
        text(&plain.stderr)
    );
    // Booted alone, the root is writable too (the image under the overlay, as `run` has it).
    let writes = s.coracle(&[
        "pack",
        &name,
        "-o",
        "writes.img",
        "echo new > /srv/app/new && rm flavour && ls /srv/app",
    ]);
    check(&writes, "coracle pack with a command that writes");
    let plain = plain_boot(&s, &writes);
    assert_eq!(
        text(&plain.stdout),
        "flavour.link\nhello.txt\nnew\n",
        "stderr:\n{}",
        text(&plain.stderr)
    );

    // A damaged file is refused with a reason, never booted.
    let mut tail_moved = bytes[..bytes.len() - 4096 - 128].to_vec();
    tail_moved.extend_from_slice(&bytes[bytes.len() - 128..]);
    std::fs::write(s.dir.join("moved.img"), tail_moved).unwrap();
    let out = s.coracle(&["run", "moved.img"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("damaged packed image"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs the QEMU command that `coracle pack` printed (`packed` is its output) with the shell,
/// as a user would.
fn plain_boot(s: &Scratch, packed: &std::process::Output) -> std::process::Output {
    let printed = text(&packed.stderr);
    let line = printed
        .lines()
        .find(|l| l.starts_with("qemu-system-x86_64 "))
        .unwrap_or_else(|| panic!("no QEMU command in:\n{printed}"));
    Command::new("sh")
        .args(["-c", line])
        .current_dir(&s.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A root filesystem too large for the VM's memory on the initrd path: an error that says
/// what to do instead of QEMU's "initrd is too large".
#[test]
fn a_root_too_large_for_memory_says_what_to_do() {
    let s = Scratch::new("large");
    let root = s.dir.join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::fs::write(root.join("blob"), vec![7u8; 40 << 20]).unwrap();
    for memory in ["16", "44"] {
        let out = s.coracle(&[
            "run",
            "--root-device",
            "initrd",
            "--network",
            "none",
            "-m",
            memory,
            "root",
            "/bin/busybox",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(125));
        let err = text(&out.stderr);
        assert!(
            err.contains("does not fit in the guest's memory")
                && err.contains("--root-device blk")
                && err.contains(&format!("the VM has {memory} MiB")),
            "-m {memory}: {err}"
        );
    }
}

/// `coracle bench IMAGE CMD`: the image's command in Coracle and in the Linux VM booting the
/// same files, with the same output.
#[test]
fn bench_an_image_against_the_linux_vm() {
    let s = Scratch::new("bench");
    let name = format!("coracle-test-bench-{}", std::process::id());
    let _image = build_app(&s, &name, "Dockerfile", &["FLAVOUR=bench"]);
    let out = s.coracle(&[
        "bench",
        "-n",
        "1",
        &name,
        "sh",
        "-c",
        "echo $GREETING from $(pwd); cat flavour /opt/replaced",
    ]);
    check(&out, "coracle bench IMAGE CMD");
    let report = text(&out.stdout);
    assert!(
        report.contains("outputs: identical"),
        "{report}\n{}",
        text(&out.stderr)
    );
    assert!(report.contains("hello from /srv/app"), "{report}");
    assert!(report.contains("bench"), "{report}");
}
