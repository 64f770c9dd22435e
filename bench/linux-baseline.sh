#!/usr/bin/env bash
# Baseline for Coracle boot benchmarks: boot a stock Debian 12 Linux kernel
# (PVH vmlinux + busybox initramfs) under QEMU with the same flags Coracle
# uses, and measure how long it takes.
#
# Usage: bench/linux-baseline.sh [-n N] [--accel tcg|kvm] [--machine M] [--mem SIZE]
#                                [--timeout SECONDS]
#   M: microvm      Coracle's flags (-M microvm,x-option-roms=off,rtc=off)
#      microvm-rtc  the same with the CMOS RTC left on (Linux waits ~3 s without it)
#      q35          -M q35 -bios /usr/share/qemu/qboot.rom
#      all          all three (default)
#
# Downloads and builds are cached under ${CORACLE_BENCH_DIR:-$HOME/.cache/coracle-bench}.
# Nothing is installed on the host except busybox-static (only if missing).
set -euo pipefail

N=5
ACCEL=tcg
MACHINES=all
MEM=128M
TIMEOUT=60

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -n) N="${2:?-n needs a number}"; shift 2 ;;
        -n*) N="${1#-n}"; shift ;;
        --accel) ACCEL="${2:?--accel needs tcg or kvm}"; shift 2 ;;
        --accel=*) ACCEL="${1#--accel=}"; shift ;;
        --machine) MACHINES="${2:?--machine needs a value}"; shift 2 ;;
        --machine=*) MACHINES="${1#--machine=}"; shift ;;
        --mem) MEM="${2:?--mem needs a size}"; shift 2 ;;
        --mem=*) MEM="${1#--mem=}"; shift ;;
        --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
        --timeout=*) TIMEOUT="${1#--timeout=}"; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 >&2 ;;
    esac
done

case "$ACCEL" in tcg|kvm) ;; *) echo "--accel must be tcg or kvm" >&2; exit 2 ;; esac
case "$MACHINES" in
    microvm|microvm-rtc|q35) ;;
    all) MACHINES="microvm microvm-rtc q35" ;;
    *) echo "--machine must be microvm, microvm-rtc, q35 or all" >&2; exit 2 ;;
esac
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then echo "-n must be a positive integer" >&2; exit 2; fi

CACHE="${CORACLE_BENCH_DIR:-$HOME/.cache/coracle-bench}"
mkdir -p "$CACHE"
log() { echo "linux-baseline: $*" >&2; }

for tool in qemu-system-x86_64 python3 readelf dpkg apt-get apt-cache; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done

# ---------------------------------------------------------------------------
# 1. Debian kernel package
# ---------------------------------------------------------------------------
# Newest linux-image-6.1.0-<abi>-amd64 that apt has a candidate version for.
pick_kernel_pkg() {
    local names name policy
    # Captured first: with pipefail, an early "break"/"grep -q" would SIGPIPE the producer.
    names="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null \
             | awk '{print $1}' | sort -t- -k4,4nr)" || true
    for name in $names; do
        policy="$(apt-cache policy "$name" 2>/dev/null)" || continue
        if [[ "$policy" == *"Candidate: "[0-9]* ]]; then
            echo "$name"
            return
        fi
    done
}

KPKG="$(pick_kernel_pkg)"
if [ -z "$KPKG" ] && [ -f "$CACHE/kernel-pkg" ]; then
    KPKG="$(cat "$CACHE/kernel-pkg")"     # offline rerun: use what we unpacked before
fi
if [ -z "$KPKG" ]; then
    log "no linux-image-6.1.0-*-amd64 candidate; running apt-get update once"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2; else sudo apt-get update -qq >&2; fi
    KPKG="$(pick_kernel_pkg)"
fi
[ -n "$KPKG" ] || { log "cannot find a Debian linux-image-6.1.0-*-amd64 package"; exit 1; }
KDIR="$CACHE/$KPKG"
KVER="${KPKG#linux-image-}"
if [ ! -f "$KDIR/root/boot/vmlinuz-$KVER" ]; then
    mkdir -p "$KDIR"
    if ! compgen -G "$KDIR/${KPKG}_*.deb" >/dev/null; then
        log "downloading $KPKG"
        sandbox=()
        [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)  # no "_apt can't write" warning
        (cd "$KDIR" && apt-get download -q "${sandbox[@]}" "$KPKG" >&2)
    fi
    DEB="$(compgen -G "$KDIR/${KPKG}_*.deb" | head -n1)"
    rm -rf "$KDIR/root.tmp"
    dpkg -x "$DEB" "$KDIR/root.tmp"
    rm -rf "$KDIR/root"
    mv "$KDIR/root.tmp" "$KDIR/root"
fi
echo "$KPKG" > "$CACHE/kernel-pkg"
KVER="${KPKG#linux-image-}"
BZIMAGE="$KDIR/root/boot/vmlinuz-$KVER"
[ -f "$BZIMAGE" ] || { log "no $BZIMAGE in package"; exit 1; }

# ---------------------------------------------------------------------------
# 2. Uncompressed PVH vmlinux from the bzImage payload
# ---------------------------------------------------------------------------
VMLINUX="$KDIR/vmlinux"
if [ ! -s "$VMLINUX" ] || [ "$VMLINUX" -ot "$BZIMAGE" ]; then
    log "extracting vmlinux from $(basename "$BZIMAGE")"
    python3 - "$BZIMAGE" "$VMLINUX.tmp" <<'EOF'
# Find a compressed stream in the bzImage whose contents are an ELF image.
import lzma, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()

def xz(off):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    return d.decompress(data[off:])  # stops at end of stream, ignores the rest

def gz(off):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return d.decompress(data[off:])

def lzma_alone(off):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    return d.decompress(data[off:])

kinds = [(b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz), (b"\x5d\x00\x00", lzma_alone)]
for magic, fn in kinds:
    off = data.find(magic)
    while off >= 0:
        try:
            out = fn(off)
        except Exception:
            out = b""
        if out[:4] == b"\x7fELF":
            open(dst, "wb").write(out)
            print(f"payload {fn.__name__} at offset {off:#x}, {len(out)} bytes",
                  file=sys.stderr)
            sys.exit(0)
        off = data.find(magic, off + 1)
sys.exit("no compressed ELF payload found (zstd/lz4/bzip2 kernels are not handled)")
EOF
    mv "$VMLINUX.tmp" "$VMLINUX"
fi
# The PVH entry point is an ELF note named "Xen" of type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
notes="$(readelf -n "$VMLINUX" 2>/dev/null || true)"
if ! grep -qE '^[[:space:]]+Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+(Unknown note type: \(0x00000012\)|NT_XEN_ELFNOTE_PHYS32_ENTRY)' <<<"$notes"; then
    log "$VMLINUX has no Xen PVH entry note (type 18); QEMU cannot boot it with -kernel"
    exit 1
fi

# ---------------------------------------------------------------------------
# 3. initramfs: /bin/busybox + /init
# ---------------------------------------------------------------------------
BUSYBOX=/bin/busybox
is_static() { [ -f "$1" ] && ! readelf -lW "$1" 2>/dev/null | grep INTERP >/dev/null; }
if ! dpkg -s busybox-static >/dev/null 2>&1 || ! is_static "$BUSYBOX"; then
    log "installing busybox-static"
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq busybox-static >&2
    else sudo apt-get install -y -qq busybox-static >&2; fi
fi
is_static "$BUSYBOX" || { log "$BUSYBOX is not a static executable"; exit 1; }

INITRAMFS="$CACHE/initramfs.cpio"
# After "hello" the guest reports two clocks of its own:
#  - the printk timestamp of a line written to /dev/kmsg (local_clock: starts when the TSC is
#    set up in early setup_arch, i.e. within microseconds of kernel entry);
#  - /proc/uptime (CLOCK_BOOTTIME: starts at timekeeping_init, so it leaves out early boot,
#    including the wait for a CMOS RTC that is not there).
INIT_SCRIPT='#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox echo hello
/bin/busybox echo bench-hello > /dev/kmsg
read up _ < /proc/uptime
/bin/busybox echo "uptime=$up"
/bin/busybox dmesg | /bin/busybox grep -m1 bench-hello
/bin/busybox poweroff -f
'
# Rebuild when busybox or the script changed (the script text is stored alongside).
if [ ! -s "$INITRAMFS" ] || [ "$INITRAMFS" -ot "$BUSYBOX" ] \
   || ! printf '%s' "$INIT_SCRIPT" | cmp -s - "$CACHE/initramfs.init"; then
    log "building initramfs"
    INIT_SCRIPT="$INIT_SCRIPT" python3 - "$BUSYBOX" "$INITRAMFS.tmp" <<'EOF'
# Write a cpio "newc" archive directly, so no root is needed for /dev/console.
import os, sys
busybox, dst = sys.argv[1], sys.argv[2]
ino = [300000]
out = bytearray()

def entry(name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    nb = name.encode() + b"\0"
    fields = [ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out.extend(hdr + nb)
    out.extend(b"\0" * (-len(out) % 4))
    out.extend(data)
    out.extend(b"\0" * (-len(out) % 4))

entry("dev", 0o040755, nlink=2)
entry("dev/console", 0o020600, rdev=(5, 1))
entry("dev/kmsg", 0o020644, rdev=(1, 11))
entry("proc", 0o040755, nlink=2)
entry("bin", 0o040755, nlink=2)
entry("bin/busybox", 0o100755, open(busybox, "rb").read())
entry("init", 0o100755, os.environ["INIT_SCRIPT"].encode())
entry("TRAILER!!!", 0)
out.extend(b"\0" * (-len(out) % 512))
open(dst, "wb").write(out)
EOF
    mv "$INITRAMFS.tmp" "$INITRAMFS"
    printf '%s' "$INIT_SCRIPT" > "$CACHE/initramfs.init"
fi

# ---------------------------------------------------------------------------
# 4./5. Boot and measure
# ---------------------------------------------------------------------------
# Host TSC frequency for tsc_early_khz (TCG's guest TSC runs at the host's rate). Without it
# the kernel hangs on microvm after "Unable to calibrate against PIT" (PLATFORM.md).
TSC_KHZ=2500000
if msg="$(dmesg 2>/dev/null | grep -E 'tsc: (Refined TSC clocksource calibration|Detected) [0-9.]+ MHz' | tail -n1)" \
   && [ -n "$msg" ]; then
    mhz="$(sed -E 's/.* ([0-9]+(\.[0-9]+)?) MHz.*/\1/' <<<"$msg")"
    TSC_KHZ="$(awk -v m="$mhz" 'BEGIN { printf "%d", m * 1000 + 0.5 }')"
fi

KVERSION="$(grep -a -o -m1 -E 'Linux version [0-9][^ ]* ' "$VMLINUX" | head -n1 | awk '{print $3}')" || true
log "kernel ${KVERSION:-$KVER} ($KPKG), vmlinux $(( $(stat -c %s "$VMLINUX") / 1024 )) KiB," \
    "initramfs $(( $(stat -c %s "$INITRAMFS") / 1024 )) KiB, tsc_early_khz=$TSC_KHZ"

APPEND="console=ttyS0 tsc_early_khz=$TSC_KHZ quiet panic=-1"

python3 - "$N" "$ACCEL" "$MEM" "$TIMEOUT" "$VMLINUX" "$INITRAMFS" "$APPEND" $MACHINES <<'EOF'
import os, re, selectors, statistics, subprocess, sys, time

n, accel, mem, timeout, vmlinux, initrd, append = sys.argv[1:8]
n, timeout = int(n), float(timeout)
machines = sys.argv[8:]

def qemu_cmd(machine):
    m = {
        "microvm": ["-M", "microvm,x-option-roms=off,rtc=off"],
        "microvm-rtc": ["-M", "microvm,x-option-roms=off"],
        "q35": ["-M", "q35", "-bios", "/usr/share/qemu/qboot.rom"],
    }[machine]
    return ["qemu-system-x86_64", *m, "-accel", accel, "-cpu", "max",
            "-m", mem, "-smp", "1", "-nodefaults", "-no-user-config",
            "-nographic", "-no-reboot", "-display", "none", "-monitor", "none",
            "-serial", "stdio",
            "-kernel", vmlinux, "-initrd", initrd, "-append", append]

HELLO = re.compile(rb"(?:^|\n)hello\r?\n")

def run_once(cmd):
    """Spawn QEMU, stream its serial output, time "hello" and the exit."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf, hello, killed = b"", None, False
    while True:
        left = t0 + timeout - time.perf_counter()
        if left <= 0:
            p.kill(); killed = True
            break
        if not sel.select(left):
            continue
        chunk = os.read(fd, 65536)
        now = time.perf_counter()
        if not chunk:
            break                      # QEMU closed stdout: it is exiting
        buf += chunk
        if hello is None and HELLO.search(buf):
            hello = now - t0
    p.wait()
    whole = time.perf_counter() - t0
    sel.close(); p.stdout.close()
    text = buf.decode("utf-8", "replace")
    m = re.search(r"^uptime=([0-9.]+)", text, re.M)
    uptime = float(m.group(1)) if m else None
    m = re.search(r"\[\s*([0-9.]+)\]\s*bench-hello", text)
    printk = float(m.group(1)) if m else None
    return {"rc": "timeout" if killed else p.returncode, "whole": whole, "hello": hello,
            "printk": printk, "uptime": uptime, "text": text}

def ms(x):
    return f"{x * 1000:.0f} ms"

def med(xs):
    return statistics.median(xs) if xs else None

# Round-robin over the machines so that a change in host load hits all of them alike.
runs = {m: [] for m in machines}
failed = {}
for i in range(n):
    for machine in machines:
        if machine in failed:
            continue
        r = run_once(qemu_cmd(machine))
        msg = f"linux-baseline: {machine} run {i + 1}/{n}: exit {r['rc']}, whole {ms(r['whole'])}"
        msg += f", hello {ms(r['hello'])}" if r["hello"] is not None else ", no hello"
        if r["printk"] is not None:
            msg += f", guest printk clock {r['printk']:.3f} s"
        if r["uptime"] is not None:
            msg += f", /proc/uptime {r['uptime']:.2f} s"
        print(msg, file=sys.stderr)
        if r["rc"] != 0 or r["hello"] is None:
            failed[machine] = r
            tail = "\n".join(r["text"].splitlines()[-15:])
            print(f"linux-baseline: {machine} failed (exit {r['rc']}); last output:\n{tail}",
                  file=sys.stderr)
        else:
            runs[machine].append(r)

results = []
for machine in machines:
    if machine in failed:
        results.append(f"linux {machine} {accel}: FAILED (exit {failed[machine]['rc']})")
        continue
    rs = runs[machine]
    wholes = [r["whole"] for r in rs]
    hellos = [r["hello"] for r in rs]
    printks = [r["printk"] for r in rs if r["printk"] is not None]
    ups = [r["uptime"] for r in rs if r["uptime"] is not None]
    line = (f"linux {machine} {accel} (n={n}): whole run min {ms(min(wholes))} median {ms(med(wholes))}; "
            f"spawn->hello min {ms(min(hellos))} median {ms(med(hellos))}; guest clock at hello: ")
    line += f"printk median {med(printks):.2f} s" if printks else "printk n/a"
    line += f", /proc/uptime median {med(ups):.2f} s" if ups else ", /proc/uptime n/a"
    results.append(line)

print()
for r in results:
    print(r)
sys.exit(0 if all("FAILED" not in r for r in results) else 1)
EOF
