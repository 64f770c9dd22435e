//! The `debian/` cases: real, dynamically linked Debian programs in the Debian root filesystem
//! (`crate::debian`), each exercising its runtime (threads, processes, extension modules, file
//! formats), not only `--version`. Programs and their inputs come as arguments and stdin, so the
//! cached tree is used as it is. Every output is the same on every run: no pid, time, address
//! or host name is printed.

use super::{spec, Place, Spec};

/// Guest memory: the root is packed into the initrd and unpacked into a tmpfs, both in RAM.
pub(crate) const DEBIAN_MEMORY: &str = "1536";

fn deb(label: &str, command: &str, args: &[&str]) -> Spec {
    Spec {
        place: Place::Debian {
            command: command.to_string(),
        },
        host_status: Some(0),
        ..spec("debian").label(label).args(args.iter())
    }
}

fn python(label: &str, code: &str) -> Spec {
    deb(label, "/usr/bin/python3", &["-c", code])
}

fn bash(label: &str, script: &str) -> Spec {
    deb(label, "/bin/bash", &["-c", script])
}

const PY_THREADS: &str = r##"
import threading, queue
results, lock = [], threading.Lock()
def work(n):
    s = sum(i * i for i in range(n * 2000))
    with lock:
        results.append((n, s))
threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(results))
q, done = queue.Queue(), threading.Event()
def produce():
    for i in range(100): q.put(i)
    q.put(None)
def consume(out):
    while (item := q.get()) is not None: out.append(item)
    done.set()
out = []
threading.Thread(target=produce).start()
c = threading.Thread(target=consume, args=(out,)); c.start(); c.join()
print(done.wait(5), sum(out), threading.active_count())
cv, box = threading.Condition(), []
def waiter():
    with cv:
        cv.wait_for(lambda: box)
        print("woken with", box[0])
w = threading.Thread(target=waiter); w.start()
with cv:
    box.append("value"); cv.notify_all()
w.join()
"##;

const PY_SUBPROCESS: &str = r##"
import subprocess, sys, os
r = subprocess.run(["echo", "hello", "world"], capture_output=True, text=True)
print(repr(r.stdout), r.returncode)
r = subprocess.run("printf 'pear\napple\nfig\n' | sort | tr a-z A-Z", shell=True, capture_output=True, text=True)
print(repr(r.stdout))
print(subprocess.run([sys.executable, "-c", "import sys; sys.exit(7)"]).returncode)
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out, _ = p.communicate(b"x" * 300000)
print(len(out), p.returncode)
r = subprocess.run(["sh", "-c", "kill -TERM $$"])
print(r.returncode)
try:
    subprocess.run(["/nonexistent/program"])
except FileNotFoundError as e:
    print("FileNotFoundError", e.errno)
print(subprocess.check_output(["env"], env={"A": "1", "B": "two"}).decode().split())
"##;

const PY_MULTIPROCESSING: &str = r##"
import multiprocessing as mp
def square(x): return x * x
def put(q, v): q.put(v * 2)
if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(square, range(12)))
    q = mp.Queue()
    p = mp.Process(target=put, args=(q, 21)); p.start()
    print(q.get(timeout=60)); p.join(); print("exit", p.exitcode)
    lock, value = mp.Lock(), mp.Value("i", 0)
    def bump(lock, value):
        for _ in range(100):
            with lock: value.value += 1
    procs = [mp.Process(target=bump, args=(lock, value)) for _ in range(3)]
    for p in procs: p.start()
    for p in procs: p.join()
    print("value", value.value)
"##;

const PY_CTYPES: &str = r##"
import ctypes
libc = ctypes.CDLL("libc.so.6")
print(libc.strlen(b"hello, world"))
libm = ctypes.CDLL("libm.so.6")
libm.cbrt.restype, libm.cbrt.argtypes = ctypes.c_double, [ctypes.c_double]
print(libm.cbrt(27.0))
buf = ctypes.create_string_buffer(32)
libc.snprintf(buf, 32, b"%d-%s-%x", 42, b"abc", 255)
print(buf.value)
arr = (ctypes.c_int * 6)(5, 3, 9, 1, 7, 2)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort(arr, 6, ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
print(list(arr))
class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double)]
print(ctypes.sizeof(Point), Point(1, 2.5).y)
"##;

const PY_STDLIB: &str = r##"
import sqlite3, json, hashlib, zlib, base64, decimal, fractions, re, struct, datetime
db = sqlite3.connect(":memory:")
db.execute("create table t (name text, n integer)")
db.executemany("insert into t values (?, ?)", [("a", 3), ("b", 10), ("a", 4), ("c", 1)])
print(db.execute("select name, sum(n), count(*) from t group by name order by name").fetchall())
print(sqlite3.sqlite_version_info >= (3, 0, 0))
doc = {"z": [1, 2.5, None, True], "a": {"nested": "ünïcödé"}, "n": 10 ** 20}
text = json.dumps(doc, sort_keys=True)
print(text, json.loads(text) == doc)
print(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True))
data = b"The quick brown fox jumps over the lazy dog"
for name in ["md5", "sha1", "sha256", "sha512", "blake2b", "sha3_256"]:
    print(name, hashlib.new(name, data).hexdigest())
print(hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex())
print(zlib.crc32(data), base64.b64encode(zlib.compress(data, 9)).decode())
print(decimal.Decimal(1) / decimal.Decimal(7), fractions.Fraction(3, 9) + 1)
print(re.findall(r"\b(\w)(\w*)\b", "hello big world"), struct.pack("<IhQ", 1, -2, 3).hex())
print(datetime.datetime(2021, 3, 4, 5, 6, 7).isoformat(), datetime.date(2024, 2, 29).strftime("%A %j"))
"##;

/// `strace -f` on shells that run programs and subshells: its execve, write and exit_group
/// lines and the SIGCHLD the shell gets (ptrace's syscall, exec, fork and signal-delivery
/// stops, registers and memory reads). Calls whose order between processes is a race
/// (fork, wait4) are left out; pids, addresses, counts and CPU times are masked, and runs of
/// spaces (strace pads to a column) squeezed.
const STRACE: &str = r##"
mask() { sed -E 's/0x[0-9a-f]+/ADDR/g; s/si_utime=[^}]*/TIMES/; s/[0-9]+/N/g; s/\[pid +N\]/[pid]/; s/ +/ /g'; }
strace -f -qq -e trace=execve,write,exit_group -e signal=SIGCHLD \
    /bin/sh -c '/bin/echo two; echo three; exit 3' 2>&1 | mask
strace -f -qq -e trace=execve,write,exit_group -e signal=SIGCHLD \
    /bin/bash -c '(echo sub; exit 4); echo status $?; x=$(/bin/echo captured); echo $x' 2>&1 | mask
LC_ALL=C strace -qq -e trace=openat,read,close /bin/cat /etc/debian_version 2>&1 | grep -v ld.so | mask
"##;

/// What runtimes ask the kernel at start: prctl and personality queries, sysinfo, users and
/// groups through nsswitch.conf (files), the C.UTF-8 locale, CPU counts from sched_getaffinity,
/// /sys/devices/system/cpu/online and /proc/cpuinfo, /proc/meminfo. Values that differ between
/// machines (CPU and memory sizes) are printed as consistency checks. The host side has every
/// capability and a container Docker's set, so the bounding set is asked only about
/// capabilities in both (`cred_caps` compares the sets after dropping to Docker's).
const PY_RUNTIME: &str = r##"
import ctypes, os, locale, pwd, grp, socket, re
libc = ctypes.CDLL(None, use_errno=True)
def prctl(*args):
    r = libc.prctl(*[ctypes.c_ulong(a) for a in args] + [ctypes.c_ulong(0)] * (5 - len(args)))
    return r if r >= 0 else -ctypes.get_errno()
buf = ctypes.create_string_buffer(16)
print("PR_GET_NAME", prctl(16, ctypes.addressof(buf)), buf.value)
print("PR_SET_NAME", libc.prctl(15, b"renamed-process-long", 0, 0, 0), open("/proc/self/comm").read().strip())
print("PR_GET_DUMPABLE", prctl(3), "PR_GET_KEEPCAPS", prctl(7), "PR_GET_SECCOMP", prctl(21))
print("PR_GET_NO_NEW_PRIVS", prctl(39), "set", prctl(38, 1), "now", prctl(39))
print("PR_GET_TIMERSLACK", prctl(30), "PR_CAPBSET_READ", prctl(23, 0), prctl(23, 13), prctl(23, 1000))
print("PR_GET_THP_DISABLE", prctl(42), "set", prctl(41, 1), "now", prctl(42))
print("PR_GET_CHILD_SUBREAPER", prctl(37, ctypes.addressof(buf)) , "bad option", prctl(0x7fff))
print("personality", libc.personality(0xffffffff))
class Sysinfo(ctypes.Structure):
    _fields_ = [("uptime", ctypes.c_long), ("loads", ctypes.c_ulong * 3), ("totalram", ctypes.c_ulong),
                ("freeram", ctypes.c_ulong), ("sharedram", ctypes.c_ulong), ("bufferram", ctypes.c_ulong),
                ("totalswap", ctypes.c_ulong), ("freeswap", ctypes.c_ulong), ("procs", ctypes.c_ushort),
                ("pad", ctypes.c_ushort), ("totalhigh", ctypes.c_ulong), ("freehigh", ctypes.c_ulong),
                ("mem_unit", ctypes.c_uint), ("f", ctypes.c_char * 0)]
si = Sysinfo()
print("sysinfo", libc.sysinfo(ctypes.byref(si)), si.totalram > si.freeram > 0, si.procs > 0, si.mem_unit)
print("pwd", pwd.getpwnam("root")[:7], pwd.getpwuid(65534).pw_name, grp.getgrgid(0).gr_name, grp.getgrnam("nogroup").gr_gid)
try:
    pwd.getpwnam("no-such-user")
except KeyError as e:
    print("KeyError", e)
print("locale", locale.setlocale(locale.LC_ALL, "C.UTF-8"), locale.nl_langinfo(locale.CODESET), "ünï".upper(), sorted(["b", "A", "a", "B"], key=locale.strxfrm))
print("cpus", os.cpu_count() == len(os.sched_getaffinity(0)) == os.sysconf("SC_NPROCESSORS_ONLN"))
print("online", bool(re.fullmatch(r"0(-\d+)?\n", open("/sys/devices/system/cpu/online").read())))
cpuinfo = open("/proc/cpuinfo").read()
print("cpuinfo", cpuinfo.count("processor\t:") == os.cpu_count(), "flags\t\t:" in cpuinfo, "vendor_id" in cpuinfo)
meminfo = dict(l.split(":", 1) for l in open("/proc/meminfo").read().splitlines())
print("meminfo", [k for k in ["MemTotal", "MemFree", "MemAvailable", "Cached", "SwapTotal"] if k in meminfo])
print("pages", os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024 == int(meminfo["MemTotal"].split()[0]))
print("uname", os.uname().sysname, os.uname().machine)
"##;

const PERL: &str = r##"
use strict; use warnings; use Digest::MD5 qw(md5_hex); use POSIX qw(floor); use List::Util qw(sum max);
my %count; $count{$_}++ for map { lc } split /\W+/, "The cat and the hat and THE bat";
print join(",", map { "$_=$count{$_}" } sort keys %count), "\n";
my @lines = <STDIN>; chomp @lines;
printf "%d lines, longest %d, sum %d\n", scalar @lines, max(map { length } @lines), sum(map { /(\d+)/ ? $1 : 0 } @lines);
print md5_hex("perl"), " ", floor(-2.5), " ", sprintf("%.3e|%05.1f|%x", 12345.678, 3.14159, 255), "\n";
my @packed = unpack("N n C", pack("N n C", 1, 2, 3)); print "@packed\n";
(my $s = "hello world") =~ s/(\w+)/\u$1/g; print "$s\n";
my $pid = open(my $fh, "-|", "echo", "from child") or die; print "child said: ", <$fh>; close $fh; print "status $?\n";
local $@; eval { die { code => 42 } }; print "caught $@->{code}\n";
my @sorted = sort { $a->[1] <=> $b->[1] or $a->[0] cmp $b->[0] } map { [$_, length] } qw(pear fig apple kiwi);
print join(" ", map { $_->[0] } @sorted), "\n";
"##;

const RUBY: &str = r##"
require "json"; require "digest"; require "set"
Point = Struct.new(:x, :y) do
  def dist2 = x * x + y * y
end
pts = [Point.new(3, 4), Point.new(1, 1), Point.new(0, 2)]
puts pts.sort_by(&:dist2).map(&:to_a).inspect
h = Hash.new(0); "the cat and the hat".split.each { |w| h[w] += 1 }
puts h.sort.to_h.to_json
puts JSON.pretty_generate({ "a" => [1, 2.5, nil], "b" => { "c" => "\u00fc" } })
puts Digest::SHA256.hexdigest("ruby"), Digest::MD5.hexdigest("")
fib = Enumerator.new { |y| a, b = 0, 1; loop { y << a; a, b = b, a + b } }
puts fib.take(15).join(","), (1..10).each_slice(3).map(&:sum).inspect
puts Set[3, 1, 2].sort.inspect, format("%08.3f|%-5s|%x", 3.14159, "ab", 255)
t = 4.times.map { |i| Thread.new(i) { |n| n * n } }
puts t.map(&:value).inspect
r, w = IO.pipe
pid = fork { r.close; w.write("from child"); exit!(3) }
w.close; puts r.read; Process.wait(pid); puts $?.exitstatus
begin; raise ArgumentError, "bad"; rescue => e; puts "#{e.class}: #{e.message}"; end
puts 2**100, 10.0 / 3, :upcase.to_proc.call("x")
"##;

const LUA: &str = r##"
local t = {}
for w in ("the quick brown fox jumps over the lazy dog"):gmatch("%a+") do t[#t + 1] = w end
table.sort(t, function(a, b) return #a < #b or (#a == #b and a < b) end)
print(table.concat(t, " "))
local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
print(co(1), co(10))
print(string.format("%5.2f|%-4s|%d|%q", math.pi, "x", 2^53 // 1, "a\nb"))
print(("hello world"):gsub("o", "0"), ("%d"):rep(3, ","), utf8.char(228, 8364))
local mt = { __add = function(a, b) return setmetatable({ v = a.v + b.v }, getmetatable(a)) end }
local x = setmetatable({ v = 2 }, mt) + setmetatable({ v = 3 }, mt)
print(x.v, math.maxinteger, 7 // 2, 7 % -3, 1 / 0, math.type(1), math.type(1.0))
print(pcall(error, { code = 5 }), select("#", 1, nil, 3))
local f = io.popen("echo from a child"); print(f:read("a")); print(f:close())
for line in io.lines() do io.write("[", line, "]") end print()
"##;

const GAWK: &str = r##"
BEGIN { FS = "," }
NR > 1 { sum[$1] += $2; n[$1]++; all[NR] = $2 }
END {
  PROCINFO["sorted_in"] = "@ind_str_asc"
  for (k in sum) printf "%-6s %5d %6.2f\n", k, sum[k], sum[k] / n[k]
  c = asort(all, sorted, "@val_num_desc"); for (i = 1; i <= c; i++) printf "%s ", sorted[i]; print ""
  print gensub(/([a-z]+)-([0-9]+)/, "\\2:\\1", "g", "ab-12 cd-34"), toupper(substr("coracle", 2, 3)), length("ünï")
  print strftime("%Y-%m-%d %H:%M:%S", 0, 1), sprintf("%c%c", 72, 105), 2 ** 40, int(-3.7)
  cmd = "sort -r"; print "b" |& cmd; print "a" |& cmd; close(cmd, "to")
  while ((cmd |& getline line) > 0) print "coprocess:", line
}
"##;

const CSV: &[u8] = b"name,count\nalpha,3\nbeta,10\nalpha,4\ngamma,2\nbeta,1\n";

const SQLITE: &str = "
create table fruit (name text primary key, price real, stock integer);
insert into fruit values ('apple', 1.5, 10), ('pear', 2.25, 0), ('fig', 3.0, 7), ('kiwi', 0.5, 100);
select name, price * stock as value from fruit where stock > 0 order by value desc;
select count(*), printf('%.2f', avg(price)), group_concat(name, '|') from (select * from fruit order by name);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 10) select sum(i), total(i * i) from n;
select json_object('a', 1, 'b', json_array(1, 2, 'x')), json_extract('{\"k\": [5, 6]}', '$.k[1]');
create index by_price on fruit(price);
explain query plan select * from fruit where price > 1;
select upper(name), length(name), substr(name, 2), hex(name) from fruit order by rowid;
begin; update fruit set stock = stock - 1 where name = 'apple'; rollback;
select stock from fruit where name = 'apple';
select name, rank() over (order by price) from fruit order by name;
";

const BASH: &str = r##"
declare -A colour=([apple]=red [banana]=yellow [fig]=purple)
for k in $(printf '%s\n' "${!colour[@]}" | sort); do printf '%s=%s\n' "$k" "${colour[$k]}"; done
arr=(one "two words" three); echo "${#arr[@]} ${arr[1]} ${arr[@]:1}"
f() { local x=$1; (( x <= 1 )) && { echo 1; return; }; echo $(( x * $(f $((x - 1))) )); }; f 10
s="Hello, World"; echo "${s,,} ${s^^} ${s/World/There} ${s:7} ${#s}"
mapfile -t lines < <(printf 'c\nb\na\n' | sort); echo "${lines[*]}"
while IFS=: read -r user _ uid _; do [[ $uid == 0 ]] && echo "root is $user"; done < /etc/passwd
printf -v padded '%05d' 42; echo "$padded"; echo $(( 2**40 )) $(( -7 / 2 )) $(( 0x1f ))
{ echo out; echo err >&2; } 2>&1 | cat -n
( exit 3 ); echo "subshell $?"; false || echo "or"; true && echo "and"
set -o pipefail; false | true; echo "pipefail $?"
trap 'echo trapped' USR1; kill -USR1 $$; echo "after trap"
tmp=$(mktemp -d); cd "$tmp" && touch b a c && echo * && cd / && rm -r "$tmp"
coproc cat; echo ping >&"${COPROC[1]}"; read -r reply <&"${COPROC[0]}"; echo "coproc $reply"
case "abc.tar.gz" in *.tar.gz) echo tarball ;; *) echo other ;; esac
[[ "foo123" =~ ^([a-z]+)([0-9]+)$ ]] && echo "${BASH_REMATCH[2]} ${BASH_REMATCH[1]}"
"##;

const COREUTILS: &str = r##"
set -e
d=$(mktemp -d /tmp/cu.XXXXXX); cd "$d"
printf 'pear\napple\nfig\napple\nbanana\n' > fruits
sort fruits | uniq -c | sort -k1,1nr -k2 ; sort -u fruits | tr '\n' ' '; echo
cut -c1-3 fruits | paste -sd, ; wc -lwc fruits ; head -n2 fruits ; tail -n1 fruits
seq 1 3 20 | tac | paste -sd+ | bc 2>/dev/null || seq 1 3 20 | paste -sd' '
od -An -tx1 -N8 fruits ; sha256sum fruits ; md5sum fruits ; base64 fruits | head -1
cp fruits copy ; mv copy moved ; ln -s moved link ; readlink link ; cat link | wc -l
mkdir -p a/b/c ; rmdir a/b/c ; ls -1 ; stat -c '%n %s %F %a' fruits link
printf '%s\n' 3 1 2 | sort -n | xargs echo ; expr 6 \* 7 ; numfmt --to=iec 1048576
date -u -d @1000000000 '+%F %T %A' ; echo $((16#ff)) | factor 2>/dev/null || true
truncate -s 10 fruits ; stat -c %s fruits ; split -b 4 fruits part. ; ls part.* ; join <(printf '1 a\n2 b\n') <(printf '1 x\n2 y\n')
printf 'a\tb\n' | expand -t 4 | od -c | head -1 ; yes | head -3 ; basename /a/b.c .c ; dirname /a/b/c
comm -12 <(printf 'a\nb\nc\n') <(printf 'b\nc\nd\n') ; nl -ba fruits | head -2 ; fold -w 3 <<< abcdefg
cd / ; rm -r "$d" ; echo done
"##;

const FINDUTILS: &str = r##"
set -e
d=$(mktemp -d /tmp/fu.XXXXXX); cd "$d"
mkdir -p src/lib src/bin docs/empty; printf 'x\n' > src/lib/a.c; printf 'yy\n' > src/lib/b.h
printf 'zzz\n' > src/bin/main.c; : > docs/readme; ln -s ../src docs/link; chmod 755 src/bin/main.c
find . | sort
find . -name '*.c' -type f | sort
find . -type d -empty
find . -type l -printf '%p -> %l\n'
find . -type f -size -3c -printf '%P %s\n' | sort
find . -perm -u+x -type f
find . -path ./docs -prune -o -type f -print | sort
find -L docs -name '*.c' | sort
find . -type f -print0 | sort -z | xargs -0 wc -c
find . -maxdepth 1 -mindepth 1 -printf '%y %f\n' | sort
find . -name '*.h' -exec cat {} \; -exec echo found {} +
cd / ; rm -r "$d"
"##;

const TAR_GZIP: &str = r##"
set -e
d=$(mktemp -d /tmp/tg.XXXXXX); cd "$d"
mkdir -p tree/sub; printf 'alpha\n' > tree/a.txt; printf 'bravo\n' > tree/sub/b.txt; ln -s a.txt tree/link
seq 1 20000 > tree/numbers
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf t.tar tree
sha256sum t.tar; tar -tvf t.tar
gzip -9 -n -c t.tar > t.tar.gz; sha256sum t.tar.gz; gzip -l t.tar.gz | tail -1 | awk '{print $2, $4}'
mkdir out; tar -xzf t.tar.gz -C out; cat out/tree/a.txt out/tree/sub/b.txt; readlink out/tree/link; diff -r tree out/tree && echo same
gzip -dc t.tar.gz | cmp - t.tar && echo roundtrip
xz -9 -c t.tar | xz -dc | sha256sum
tar --sort=name --mtime=@0 --owner=0 --group=0 -czf - tree | gzip -dc | tar -tf -
printf 'not gzip' | gzip -dc 2>&1 || echo "status $?"
cd / ; rm -r "$d"
"##;

const GIT: &str = r##"
set -e
export GIT_AUTHOR_NAME=Ada GIT_AUTHOR_EMAIL=ada@example.invalid GIT_COMMITTER_NAME=Ada GIT_COMMITTER_EMAIL=ada@example.invalid
export GIT_AUTHOR_DATE='2021-03-04T05:06:07Z' GIT_COMMITTER_DATE='2021-03-04T05:06:07Z' GIT_CONFIG_NOSYSTEM=1 HOME=/tmp
d=$(mktemp -d /tmp/git.XXXXXX); cd "$d"
git -c init.defaultBranch=main init -q repo; cd repo
printf 'hello\n' > a.txt; mkdir sub; printf 'one\ntwo\n' > sub/b.txt
git add . ; git commit -q -m 'first commit'
printf 'hello again\n' >> a.txt ; git commit -q -am 'second commit'
git checkout -q -b topic ; git rm -q sub/b.txt ; git commit -q -m 'remove b'
git checkout -q main ; git merge -q --no-edit topic
git log --format='%H %an %s' ; git log --stat --format=%s -1 HEAD~1
git cat-file -p HEAD^{tree} ; git show HEAD~1:a.txt ; git diff HEAD~2 HEAD --stat
git tag -a v1 -m 'version one' ; git describe ; git rev-list --count HEAD ; git status --short --branch
git gc -q ; git count-objects -v | grep -E '^(count|in-pack|packs)'
cd / ; rm -rf "$d"
"##;

const OPENSSL: &str = r##"
set -e
printf 'The quick brown fox\n' > /tmp/msg
openssl dgst -sha256 /tmp/msg ; openssl dgst -sha512 -r /tmp/msg ; openssl dgst -md5 /tmp/msg
openssl dgst -sha256 -hmac secret /tmp/msg
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f IV=0f0e0d0c0b0a09080706050403020100
openssl enc -aes-256-cbc -K $K -iv $IV -in /tmp/msg | od -An -tx1
openssl enc -aes-256-cbc -K $K -iv $IV -in /tmp/msg -a | openssl enc -d -aes-256-cbc -K $K -iv $IV -a
openssl enc -chacha20 -K $K -iv 00000000000000000000000000000001 -in /tmp/msg | openssl base64
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv $IV -in /tmp/msg | openssl dgst -sha1 -r
openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt pass:pw -kdfopt salt:salt -kdfopt iter:1000 PBKDF2
openssl prime 2147483647 ; openssl rand -hex 16 | wc -c
openssl list -digest-commands | tr -s ' ' '\n' | grep -c .
rm /tmp/msg
"##;

const JQ_INPUT: &str = r##"{"fruits": [{"name": "apple", "price": 1.5, "tags": ["red", "sweet"]},
{"name": "pear", "price": 2.25, "tags": ["green"]}, {"name": "fig", "price": 3, "tags": []},
{"name": "kiwi", "price": 0.5, "tags": ["green", "fuzzy"]}], "meta": {"count": 4, "unicode": "ünï"}}
"##;

const JQ: &str = r##"
  (.fruits | map(select(.price > 1)) | map(.name)),
  (.fruits | group_by(.tags | length) | map({n: (.[0].tags | length), names: map(.name)})),
  ([.fruits[].price] | add, min, max, (add / length)),
  (.fruits | sort_by(-.price) | .[0:2] | map("\(.name): \(.price)") | join(", ")),
  (.meta | to_entries | map("\(.key)=\(.value)")),
  ([.fruits[] | .tags[]] | unique),
  (.fruits | map({(.name): .price}) | add | keys),
  ([paths(type == "number")] | length),
  ("a,b,c" | split(",") | reverse | @csv), (.meta.unicode | @base64 | @base64d),
  ([limit(5; range(0; 100; 7))]), (reduce range(1; 11) as $i (0; . + $i * $i)),
  (try error("boom") catch "caught: \(.)"), ({} | .a.b.c = 1 | tojson)
"##;

pub(super) fn specs() -> Vec<Spec> {
    vec![
        python("python3-threads", PY_THREADS),
        python("python3-subprocess", PY_SUBPROCESS),
        python("python3-multiprocessing", PY_MULTIPROCESSING),
        python("python3-ctypes", PY_CTYPES),
        python("python3-stdlib", PY_STDLIB),
        python("python3-runtime", PY_RUNTIME),
        deb("perl", "/usr/bin/perl", &["-e", PERL]).stdin(b"line 10\nline 20 long\n\nx 5\n"),
        deb("ruby", "/usr/bin/ruby", &["-e", RUBY]),
        deb("lua", "/usr/bin/lua5.4", &["-e", LUA]).stdin(b"one\ntwo\n"),
        deb("gawk", "/usr/bin/gawk", &[GAWK]).stdin(CSV),
        deb("sqlite3", "/usr/bin/sqlite3", &[":memory:"]).stdin(SQLITE.as_bytes()),
        bash("bash", BASH),
        bash("coreutils", COREUTILS),
        bash("findutils", FINDUTILS),
        bash("tar-gzip", TAR_GZIP),
        bash("git", GIT),
        bash("openssl", OPENSSL),
        bash("strace", STRACE),
        bash("gdb", &super::debian_gdb::script()),
        deb("jq", "/usr/bin/jq", &["-c", JQ]).stdin(JQ_INPUT.as_bytes()),
        deb(
            "file",
            "/usr/bin/file",
            &[
                "/bin/bash",
                "/etc/passwd",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/usr/share/perl5",
                "/usr/bin/python3",
                "/usr/lib/python3.11/json/__init__.py",
                "/bin/sh",
            ],
        ),
        deb("file-stdin", "/usr/bin/file", &["-b", "-"]).stdin(b"\x1f\x8b\x08\x00\x00\x00\x00\x00"),
        deb("true", "/bin/true", &[]),
        deb("false", "/bin/false", &[]).status(1),
    ]
}
