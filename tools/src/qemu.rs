//! The QEMU command line of docs/guest-protocol.md, and the choice of accelerator.
//!
//! Pure functions from a [`VmConfig`] to arguments, so the exact line is unit-tested; `vm`
//! spawns it with the channel pipes on fds 3-8.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    Tcg,
    Auto,
}

/// Where the root filesystem of a ROOTFS_DIR or image travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RootDevice {
    /// Unpacked from the initrd into memory at boot.
    Initrd,
    /// An EROFS image on a read-only virtio-blk drive, read on demand.
    Blk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Machine {
    Microvm,
    Q35,
}

/// The guest → host debugcon channels: chardev id, I/O port, and the fd each is handed to
/// QEMU on.
pub const CHANNELS: [(&str, u16, i32); 2] = [("log", 0xeb, 5), ("ctl", 0xec, 6)];

/// A port of the virtio-serial device (docs/guest-protocol.md): its number on the device
/// is how the kernel knows what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// The chardev's id; the port is named `coracle.ID`.
    pub id: &'static str,
    pub nr: u32,
    /// The fd QEMU gets the pipe on.
    pub fd: i32,
    /// Host → guest.
    pub input: bool,
}

/// The program's stdout and stderr, its stdin, and the host's control records, in the order
/// `vm` makes their pipes.
pub const PORTS: [Port; 4] = [
    Port {
        id: "stdout",
        nr: 1,
        fd: 3,
        input: false,
    },
    Port {
        id: "stderr",
        nr: 2,
        fd: 4,
        input: false,
    },
    Port {
        id: "stdin",
        nr: 3,
        fd: 7,
        input: true,
    },
    Port {
        id: "control",
        nr: 4,
        fd: 8,
        input: true,
    },
];

const QBOOT: &str = "/usr/share/qemu/qboot.rom";

/// `-M` for microvm: no option ROMs, no CMOS RTC.
pub const MICROVM: &str = "microvm,x-option-roms=off,rtc=off";

/// No default devices, config files, windows, monitor, or reboots.
pub const NO_DEFAULTS: [&str; 8] = [
    "-nodefaults",
    "-no-user-config",
    "-nographic",
    "-no-reboot",
    "-display",
    "none",
    "-monitor",
    "none",
];

/// `-accel` and `-cpu` for a resolved accelerator (`Auto` reads as TCG).
pub fn accel_args(accel: Accel) -> [&'static str; 4] {
    match accel {
        Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
        Accel::Tcg | Accel::Auto => ["-accel", "tcg", "-cpu", "max"],
    }
}

/// Resolves `auto`: hardware KVM only when `/dev/kvm` is usable *and* the CPU advertises
/// VT-x/AMD-V. A nested "PVM" `/dev/kvm` has neither flag and emulates ring 0 slowly and
/// incompletely (see shared/PLATFORM.md), so it must not be picked.
pub fn resolve_accel(requested: Accel, kvm_usable: bool, cpuinfo: &str) -> Accel {
    match requested {
        Accel::Auto if kvm_usable && cpu_has_virt(cpuinfo) => Accel::Kvm,
        Accel::Auto => Accel::Tcg,
        other => other,
    }
}

fn cpu_has_virt(cpuinfo: &str) -> bool {
    cpuinfo.lines().any(|line| {
        let Some((key, value)) = line.split_once(':') else {
            return false;
        };
        key.trim() == "flags" && value.split_whitespace().any(|f| f == "vmx" || f == "svm")
    })
}

/// Probes this host for [`resolve_accel`].
pub fn host_accel(requested: Accel) -> Accel {
    if requested != Accel::Auto {
        return requested;
    }
    let kvm_usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    resolve_accel(requested, kvm_usable, &cpuinfo)
}

/// Everything the QEMU command line depends on.
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub machine: Machine,
    /// `Kvm` or `Tcg` (resolved).
    pub accel: Accel,
    pub memory_mib: u64,
    pub cpus: u32,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The root filesystem's EROFS image, attached read-only as a virtio-blk drive.
    pub root_drive: Option<PathBuf>,
    /// Where the image lies in `root_drive`'s file when it is part of a packed image
    /// (offset, size); the whole file otherwise.
    pub root_window: Option<(u64, u64)>,
    pub cmdline: String,
    /// The network backend and card (`network::NetworkArgs::qemu_args`), empty for none.
    pub network: Vec<OsString>,
    /// `--icount`: count instructions (`crate::icount::QEMU_ARGS`).
    pub icount: bool,
    /// `-v` exports (`crate::volume`).
    pub volumes: Vec<crate::volume::Volume>,
}

/// The arguments after the QEMU binary.
pub fn qemu_args(config: &VmConfig) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    match config.machine {
        Machine::Microvm => push(&["-M", MICROVM]),
        Machine::Q35 => push(&["-M", "q35", "-bios", QBOOT]),
    }
    push(&accel_args(config.accel));
    if config.icount {
        push(&crate::icount::QEMU_ARGS);
    }
    push(&["-m", &format!("{}M", config.memory_mib)]);
    push(&["-smp", &config.cpus.to_string()]);
    push(&NO_DEFAULTS);
    args.push("-kernel".into());
    args.push(config.kernel.clone().into());
    args.push("-initrd".into());
    args.push(qemu_escape_path(&config.initrd));
    args.push("-append".into());
    args.push(config.cmdline.clone().into());
    args.extend(virtio_serial_args(config.machine, &PORTS));
    if let Some(image) = &config.root_drive {
        args.push("-drive".into());
        args.push(root_drive_option(image, config.root_window));
        args.push("-device".into());
        args.push(match config.machine {
            Machine::Microvm => "virtio-blk-device,drive=root".into(),
            Machine::Q35 => "virtio-blk-pci,drive=root".into(),
        });
    }
    for (id, port, fd) in CHANNELS {
        args.push("-chardev".into());
        args.push(format!("file,id={id},path=/dev/fd/{fd},append=on").into());
        args.push("-device".into());
        args.push(format!("isa-debugcon,iobase={port:#x},chardev={id}").into());
    }
    args.push("-device".into());
    args.push("isa-debug-exit,iobase=0xf4,iosize=0x04".into());
    args.extend(config.network.iter().cloned());
    args.extend(crate::volume::qemu_args(&config.volumes, config.machine));
    args
}

/// The virtio-serial device with `ports` on it (`coracle bench --streams` gives the Linux VM
/// the same stdout and stdin ports as Coracle's).
pub fn virtio_serial_args(machine: Machine, ports: &[Port]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-device".into()];
    args.push(match machine {
        Machine::Microvm => "virtio-serial-device,id=vs,max_ports=5".into(),
        Machine::Q35 => "virtio-serial-pci,id=vs,max_ports=5,disable-legacy=on".into(),
    });
    for p in ports {
        let (id, nr, fd) = (p.id, p.nr, p.fd);
        // Output to a file chardev: QEMU keeps a port's buffer while the host pipe is full
        // and writes the rest when it drains, so the guest waits and nothing is lost. Input
        // through a pipe chardev, read as the guest posts buffers.
        args.push("-chardev".into());
        args.push(if p.input {
            format!("pipe,id={id},path=/dev/fd/{fd}").into()
        } else {
            format!("file,id={id},path=/dev/fd/{fd},append=on").into()
        });
        args.push("-device".into());
        args.push(format!("virtserialport,bus=vs.0,nr={nr},chardev={id},name=coracle.{id}").into());
    }
    args
}

/// `-drive`'s value for the read-only root drive: the file `image`, or the `(offset, size)`
/// window of it that QEMU's raw driver then shows the guest as the whole disk.
pub fn root_drive_option(image: &std::path::Path, window: Option<(u64, u64)>) -> OsString {
    let mut drive = OsString::from("file=");
    drive.push(qemu_escape_path(image));
    drive.push(",if=none,format=raw,readonly=on,id=root");
    if let Some((offset, size)) = window {
        drive.push(format!(",offset={offset},size={size}"));
    }
    drive
}

/// `-initrd` takes a comma-separated list of files, so a comma in the path must be doubled.
fn qemu_escape_path(path: &std::path::Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut out = Vec::new();
    for &b in path.as_os_str().as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PVM: &str = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr hypervisor\n";
    const INTEL: &str = "processor\t: 0\nflags\t\t: fpu vme vmx ept\n";
    const AMD: &str = "processor\t: 0\nflags\t\t: fpu svm npt\n";

    #[test]
    fn auto_picks_kvm_only_with_hardware_virtualisation() {
        assert_eq!(resolve_accel(Accel::Auto, true, PVM), Accel::Tcg);
        assert_eq!(resolve_accel(Accel::Auto, true, INTEL), Accel::Kvm);
        assert_eq!(resolve_accel(Accel::Auto, true, AMD), Accel::Kvm);
        assert_eq!(resolve_accel(Accel::Auto, false, INTEL), Accel::Tcg);
        assert_eq!(resolve_accel(Accel::Auto, true, ""), Accel::Tcg);
        // A flag-like word elsewhere does not count.
        assert_eq!(
            resolve_accel(Accel::Auto, true, "model name\t: vmx svm\n"),
            Accel::Tcg
        );
    }

    #[test]
    fn explicit_accel_is_kept() {
        assert_eq!(resolve_accel(Accel::Kvm, false, PVM), Accel::Kvm);
        assert_eq!(resolve_accel(Accel::Tcg, true, INTEL), Accel::Tcg);
    }

    fn config() -> VmConfig {
        VmConfig {
            machine: Machine::Microvm,
            accel: Accel::Tcg,
            memory_mib: 128,
            cpus: 1,
            kernel: "/k.elf".into(),
            initrd: "/tmp/x,y/initrd.cpio".into(),
            root_drive: None,
            root_window: None,
            cmdline: "coracle.tty=0".into(),
            network: Vec::new(),
            icount: false,
            volumes: Vec::new(),
        }
    }

    fn joined(config: &VmConfig) -> String {
        qemu_args(config)
            .iter()
            .map(|a| a.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn command_line_matches_the_protocol() {
        assert_eq!(
            joined(&config()),
            "-M microvm,x-option-roms=off,rtc=off -accel tcg -cpu max -m 128M -smp 1 \
             -nodefaults -no-user-config -nographic -no-reboot -display none -monitor none \
             -kernel /k.elf -initrd /tmp/x,,y/initrd.cpio -append coracle.tty=0 \
             -device virtio-serial-device,id=vs,max_ports=5 \
             -chardev file,id=stdout,path=/dev/fd/3,append=on \
             -device virtserialport,bus=vs.0,nr=1,chardev=stdout,name=coracle.stdout \
             -chardev file,id=stderr,path=/dev/fd/4,append=on \
             -device virtserialport,bus=vs.0,nr=2,chardev=stderr,name=coracle.stderr \
             -chardev pipe,id=stdin,path=/dev/fd/7 \
             -device virtserialport,bus=vs.0,nr=3,chardev=stdin,name=coracle.stdin \
             -chardev pipe,id=control,path=/dev/fd/8 \
             -device virtserialport,bus=vs.0,nr=4,chardev=control,name=coracle.control \
             -chardev file,id=log,path=/dev/fd/5,append=on -device isa-debugcon,iobase=0xeb,chardev=log \
             -chardev file,id=ctl,path=/dev/fd/6,append=on -device isa-debugcon,iobase=0xec,chardev=ctl \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04"
        );
    }

    #[test]
    fn root_drive_window() {
        let mut c = config();
        c.root_drive = Some("/p/a,b.img".into());
        assert!(joined(&c).contains(
            " -drive file=/p/a,,b.img,if=none,format=raw,readonly=on,id=root \
             -device virtio-blk-device,drive=root "
        ));
        c.root_window = Some((8192, 4096));
        assert!(joined(&c).contains(
            " -drive file=/p/a,,b.img,if=none,format=raw,readonly=on,id=root,offset=8192,size=4096 "
        ));
    }

    #[test]
    fn q35_kvm() {
        let mut c = config();
        c.machine = Machine::Q35;
        c.accel = Accel::Kvm;
        c.memory_mib = 1024;
        c.cpus = 2;
        let line = joined(&c);
        assert!(line.starts_with(
            "-M q35 -bios /usr/share/qemu/qboot.rom -accel kvm -cpu host -m 1024M -smp 2 "
        ));
        assert!(line.contains(" -device virtio-serial-pci,id=vs,max_ports=5,disable-legacy=on "));
    }

    #[test]
    fn icount_counts_instructions_with_a_fixed_seed() {
        let mut c = config();
        c.icount = true;
        assert!(joined(&c).starts_with(
            "-M microvm,x-option-roms=off,rtc=off -accel tcg -cpu max \
             -icount shift=0,sleep=off -seed 1 -m 128M "
        ));
    }
}
