//! `coracle run -v` in a real VM: host directories and named volumes over virtio-9p. What a
//! program writes and syncs is on the host even when the VM is killed right after; `:ro`
//! refuses changes; owners and modes are the host's; SQLite's WAL mode works on a volume.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{build_c, coracle, stderr};

/// A scratch host directory; removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("coracle-volumes-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes with write+fsync, stores through a shared mapping then msync, stores through
/// another then munmap; says so and sleeps until killed.
const WRITER: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static void die(const char *what) { perror(what); _exit(1); }
static char *mapped(const char *path, int *fd) {
    *fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (*fd < 0 || ftruncate(*fd, 8192) != 0) die(path);
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) die("mmap");
    return p;
}
int main(void) {
    int fd = open("/data/written", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("open");
    const char *text = "written and synced\n";
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write");
    if (fsync(fd) != 0) die("fsync");
    int m1, m2;
    char *p = mapped("/data/msynced", &m1);
    strcpy(p + 4096, "stored then msync\n");
    if (msync(p, 8192, MS_SYNC) != 0) die("msync");
    char *q = mapped("/data/unmapped", &m2);
    strcpy(q, "stored then munmap\n");
    if (munmap(q, 8192) != 0) die("munmap");
    printf("synced\n");
    fflush(stdout);
    for (;;) pause();
}
"#;

/// The data a program wrote and synced is on the host although the VM is killed (SIGKILL to
/// `coracle`, whose QEMU dies with it) right after.
#[test]
fn synced_data_survives_killing_the_vm() {
    let dir = Dir::new("kill");
    let writer = build_c("volume_writer", WRITER);
    let mut child = Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(["run", "-v", &format!("{}:/data", dir.path())])
        .arg(&writer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(line, "synced\n", "{}", stderr(&out));
    let read = |name: &str| std::fs::read(dir.0.join(name)).unwrap();
    assert_eq!(read("written"), b"written and synced\n");
    let msynced = read("msynced");
    assert_eq!(msynced.len(), 8192);
    assert_eq!(&msynced[4096..4096 + 18], b"stored then msync\n");
    assert_eq!(&read("unmapped")[..19], b"stored then munmap\n");
    let meta = std::fs::metadata(dir.0.join("written")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::metadata(dir.0.join("msynced")).unwrap().mode() & 0o7777,
        0o640
    );
}

/// `:ro` refuses every change with EROFS and still reads; owners, modes and sizes are the
/// host's, as `docker run -v` shows them; both machines carry volumes.
#[test]
fn read_only_volume_refuses_writes_and_shows_host_owners() {
    let dir = Dir::new("ro");
    std::fs::write(dir.0.join("file"), "from the host\n").unwrap();
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    let file = dir.0.join("file");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o604)).unwrap();
    // As root the test gives the file away; otherwise it stays the runner's.
    let _ = std::os::unix::fs::chown(&file, Some(1234), Some(4321));
    let meta = std::fs::metadata(&file).unwrap();
    let script = "cat /ro/file; busybox stat -c '%u %g %a %s %F' /ro/file /ro/sub; \
                  echo x > /ro/file; echo x > /ro/new; busybox mkdir /ro/d; busybox rm /ro/file; \
                  busybox mv /ro/file /ro/moved; busybox touch /ro/file; \
                  busybox grep ' /ro ' /proc/mounts";
    for machine in ["microvm", "q35"] {
        let out = coracle(&[
            "run",
            "--machine",
            machine,
            "-v",
            &format!("{}:/ro:ro", dir.path()),
            "/bin/busybox",
            "sh",
            "-c",
            script,
        ]);
        let sub = std::fs::metadata(dir.0.join("sub")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "from the host\n{} {} 604 14 regular file\n{} {} {:o} {} directory\n\
                 vol0 /ro 9p ro,relatime,trans=virtio 0 0\n",
                meta.uid(),
                meta.gid(),
                sub.uid(),
                sub.gid(),
                sub.mode() & 0o7777,
                sub.size()
            ),
            "{machine}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert_eq!(
            err.matches("Read-only file system").count(),
            6,
            "{machine}: {err}"
        );
        let mut names: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["file", "sub"]);
        assert_eq!(std::fs::read(&file).unwrap(), b"from the host\n");
    }
}

/// A named volume is made on first use under the data directory, keeps its files between
/// runs, and `coracle volume ls|rm` list and remove it.
#[test]
fn named_volume_persists_between_runs() {
    let data = Dir::new("named");
    let run = |script: &str| {
        Command::new(env!("CARGO_BIN_EXE_coracle"))
            .env("XDG_DATA_HOME", data.path())
            .args([
                "run",
                "-v",
                "cache:/cache",
                "/bin/busybox",
                "sh",
                "-c",
                script,
            ])
            .output()
            .unwrap()
    };
    let out = run("echo kept > /cache/f; busybox mkdir /cache/d");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run("cat /cache/f; busybox ls /cache");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kept\nd\nf\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(data.0.join("coracle/volumes/cache/_data/f")).unwrap(),
        b"kept\n"
    );
    let volume = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_coracle"))
            .env("XDG_DATA_HOME", data.path())
            .arg("volume")
            .args(args)
            .output()
            .unwrap()
    };
    let ls = volume(&["ls"]);
    assert_eq!(
        String::from_utf8_lossy(&ls.stdout),
        "DRIVER    VOLUME NAME\nlocal     cache\n"
    );
    let rm = volume(&["rm", "cache", "missing"]);
    assert_eq!(rm.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&rm.stdout), "cache\n");
    assert!(stderr(&rm).contains("No such volume: missing"));
    assert!(!data.0.join("coracle/volumes/cache").exists());
}

/// SQLite in WAL mode on a volume, from the Debian root: a forked second connection writes
/// while the first stays open (both map the `-shm` wal-index), the first sees its rows, and
/// the process ends without closing (the WAL and -shm stay). A second VM opens the database
/// and finds every row, the database intact.
#[test]
fn sqlite_wal_on_a_volume() {
    let root = coracle_compat_tests::debian_root()
        .unwrap_or_else(|why| panic!("the Debian root filesystem cannot be had: {why}"));
    let dir = Dir::new("sqlite");
    let script = r#"
import os, sqlite3
a = sqlite3.connect("/db/t.db", isolation_level=None)
print(a.execute("pragma journal_mode=wal").fetchone()[0])
a.execute("pragma wal_autocheckpoint=0")
a.execute("create table t(x)")
a.execute("insert into t values (1)")
pid = os.fork()
if pid == 0:
    b = sqlite3.connect("/db/t.db", isolation_level=None)
    for i in range(2, 101):
        b.execute("insert into t values (?)", (i,))
    b.close()
    os._exit(0)
os.waitpid(pid, 0)
print(a.execute("select count(*), sum(x) from t").fetchone())
a.execute("insert into t values (1000)")
print(sorted(n for n in os.listdir("/db")), flush=True)
os._exit(0)
"#;
    let volume = format!("{}:/db", dir.path());
    let run = |args: &[&str]| {
        let mut all = vec![
            "run",
            "-m",
            "512",
            "-v",
            &volume,
            "--",
            root.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        coracle(&all)
    };
    let out = run(&["/usr/bin/python3", "-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "wal\n(100, 5050)\n['t.db', 't.db-shm', 't.db-wal']\n",
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    let out = run(&[
        "/usr/bin/sqlite3",
        "/db/t.db",
        "pragma integrity_check; select count(*), sum(x) from t; pragma journal_mode;",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n101|6050\nwal\n",
        "{}",
        stderr(&out)
    );
}
