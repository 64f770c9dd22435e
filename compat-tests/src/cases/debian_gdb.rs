//! The `debian/gdb` case: Debian's gdb in batch mode on a program the case writes and on
//! Debian's own programs, as people debug in a container: breakpoints, single steps (over a
//! `syscall` too), `next` and `finish`, registers (vector ones written), a call of the
//! program's function, backtraces of a crash and of an abort,
//! `$_siginfo`, hardware watchpoints and breakpoints, syscall, fork and exec catchpoints,
//! following a fork, attaching.
//!
//! The program is a small static ELF (non-PIE, with a symbol table) that `python3` writes
//! byte by byte, since the root has no compiler: `_start` exits with `main(argc)`, `main`
//! calls getpid and, given an argument, `crash`, which stores to address 0. Its addresses and
//! the stack's are the same on every run (gdb turns address randomisation off with
//! personality(ADDR_NO_RANDOMIZE)); those of shared libraries depend on the kernel's layout
//! of the vDSO and the stack's on the length of the auxiliary vector (the host's kernel may
//! be newer than the one Coracle follows, with more of both): those are masked, as are pids
//! and runs of spaces (gdb pads columns to the widest pid). gdb runs with a fixed
//! environment (`env -i`), which the program inherits.

/// Writes the program to `/tmp/prog`.
const MAKE_PROGRAM: &str = r##"
python3 - /tmp/prog <<'PY'
import struct, sys
base = 0x400078
code = bytes.fromhex(
    "8b3c24" "e81a000000" "89c7" "b83c000000" "0f05"          # _start: exit(main(argc))
    "55" "4889e5" "c70425000000002a000000" "5d" "c3"          # crash: *(int *)0 = 42
    "55" "4889e5" "b827000000" "0f05" "83ff01" "7e05" "e8daffffff"  # main: getpid(); argc > 1: crash()
    "b807000000" "5d" "c3")                                   # return 7
syms = [("_start", 0, 17), ("crash", 17, 17), ("main", 34, 29)]
strtab = b"\0" + b"".join(n.encode() + b"\0" for n, _, _ in syms)
symtab = bytes(24)
at = 1
for name, off, size in syms:
    symtab += struct.pack("<IBBHQQ", at, 0x12, 0, 1, base + off, size)
    at += len(name) + 1
shstr = b"\0.text\0.symtab\0.strtab\0.shstrtab\0"
body = code + symtab + strtab + shstr
o_sym = 0x78 + len(code); o_str = o_sym + len(symtab); o_shs = o_str + len(strtab)
shoff = (0x78 + len(body) + 7) & ~7
sh = lambda *f: struct.pack("<IIQQQQIIQQ", *f)
shdrs = (bytes(64) + sh(1, 1, 6, base, 0x78, len(code), 0, 0, 1, 0)
         + sh(7, 2, 0, 0, o_sym, len(symtab), 3, 1, 8, 24)
         + sh(15, 3, 0, 0, o_str, len(strtab), 0, 0, 1, 0)
         + sh(23, 3, 0, 0, o_shs, len(shstr), 0, 0, 1, 0))
ehdr = b"\x7fELF\2\1\1" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, base, 64, shoff, 0, 64, 56, 1, 64, 5, 4)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x78 + len(code), 0x78 + len(code), 0x1000)
img = ehdr + phdr + body
img += bytes(shoff - len(img)) + shdrs
open(sys.argv[1], "wb").write(img)
PY
chmod +x /tmp/prog
"##;

/// The gdb sessions, after [`MAKE_PROGRAM`].
const SESSIONS: &str = r##"
mask() { sed -E 's/0x0*7fffffff[0-9a-f]{4}/STACK/g; s/0x0*7f[0-9a-f]{10}/LIBADDR/g; s/(process|LWP|Thread) [0-9]+/\1 N/g; s/ +[0-9]+ Killed/ N Killed/; s/ +/ /g'; }
g() { env -i PATH=/usr/bin:/bin HOME=/root gdb -batch "$@" 2>&1 | mask; }
echo '== break main, steps over a syscall, next to the end'
g -ex 'break main' -ex run -ex 'info registers rip' -ex stepi -ex 'x/i $pc' -ex stepi \
  -ex 'x/i $pc' -ex 'p $_siginfo.si_code' -ex 'stepi 3' -ex 'info registers rip eflags' -ex bt \
  -ex next -ex 'p $_exitcode' /tmp/prog
echo '== a crash'
g -ex run -ex bt -ex 'p $_siginfo.si_signo' -ex 'p $_siginfo.si_code' \
  -ex 'p $_siginfo._sifields._sigfault.si_addr' -ex 'info registers rip rsp rbp' -ex 'x/2i $pc' \
  -ex kill --args /tmp/prog crash
echo '== starti, a breakpoint on the exit syscall'
g -ex starti -ex 'info registers rip rsp eflags' -ex 'stepi 5' -ex 'x/i $pc' \
  -ex 'break *0x400087' -ex c -ex 'info registers rax rdi' -ex stepi /tmp/prog
echo '== hardware watchpoints and breakpoints (debug registers)'
g -ex starti -ex 'set $w = (long *) $rsp - 1' -ex 'watch *$w' -ex 'hbreak crash' -ex c -ex bt -ex c \
  -ex 'p $_siginfo.si_code' -ex 'info registers rip' -ex 'set $a = (int *) $rsp - 2' -ex 'awatch *$a' \
  -ex 'delete 1' -ex 'info breakpoints' -ex c -ex c --args /tmp/prog crash
echo '== calling a function of the program, vector registers written'
g -ex starti -ex 'p (int) main(1)' -ex 'info registers rip' -ex 'set var $xmm0.v4_int32[0] = 5' \
  -ex 'p $xmm0.v4_int32' -ex 'p $_exitcode' /tmp/prog
echo '== a shared library breakpoint, finish'
g -ex 'set breakpoint pending on' -ex 'break write' -ex run -ex 'info registers rdi rdx' \
  -ex 'x/s $rsi' -ex stepi -ex finish -ex 'p $rax' -ex 'info breakpoints' -ex delete -ex c \
  --args /bin/echo hello
echo '== a signal in bash, an abort in python3'
g -ex run -ex bt -ex 'p $_siginfo.si_signo' -ex 'p $_siginfo.si_code' \
  --args /bin/bash -c 'kill -SEGV $$'
g -ex run -ex 'bt 3' --args /usr/bin/python3 -c 'import os; os.abort()'
echo '== catchpoints, following a fork'
g -ex 'catch syscall write' -ex run -ex c -ex c --args /bin/echo x
g -ex 'catch fork' -ex run -ex c --args /bin/bash -c '/bin/true; exit 0'
g -ex 'set follow-fork-mode child' -ex 'catch exec' -ex run -ex 'info inferiors' -ex c \
  --args /bin/bash -c '/bin/true; exit 0'
echo '== attaching'
(/bin/sleep 30 & g -p $! -ex 'p $_siginfo.si_signo' -ex 'info registers rip' -ex kill; wait) 2>&1 | mask
"##;

/// The case's bash script.
pub(super) fn script() -> String {
    format!("{MAKE_PROGRAM}{SESSIONS}")
}
