//! The kernel a packed image carries, with its launch records written in, and the plain QEMU
//! command line that boots the file without `coracle` (docs/packed-image.md).

use std::ops::Range;

use crate::qemu::{self, MICROVM, NO_DEFAULTS};

/// The kernel's section for launch records (kernel/src/launch.rs): magic, length, records.
const LAUNCH_SECTION: &str = ".coracle_launch";
const LAUNCH_MAGIC: &[u8; 8] = b"CRCLLNCH";
const LAUNCH_HEADER: usize = 16;

/// Where the launch section lies in `kernel`'s file.
fn launch_section(kernel: &[u8]) -> Result<Range<usize>, String> {
    let elf = goblin::elf::Elf::parse(kernel).map_err(|e| format!("the kernel ELF: {e}"))?;
    let section = elf
        .section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(LAUNCH_SECTION))
        .ok_or_else(|| format!("the kernel has no {LAUNCH_SECTION} section"))?;
    let start = usize::try_from(section.sh_offset).map_err(|e| e.to_string())?;
    let range = start..start.saturating_add(section.sh_size as usize);
    match kernel.get(range.clone()) {
        Some(bytes) if bytes.len() > LAUNCH_HEADER && bytes.starts_with(LAUNCH_MAGIC) => Ok(range),
        _ => Err(format!(
            "the kernel's {LAUNCH_SECTION} section is not as expected"
        )),
    }
}

/// A copy of `kernel` carrying `records` (docs/guest-protocol.md's initrd with the root on the
/// drive) in its launch section.
pub fn kernel_with_records(kernel: &[u8], records: &[u8]) -> Result<Vec<u8>, String> {
    let section = launch_section(kernel)?;
    let room = section.len() - LAUNCH_HEADER;
    if records.len() > room {
        return Err(format!(
            "the launch records (argv, environment, ...) take {} bytes; a packed image holds \
             at most {room}",
            records.len()
        ));
    }
    let mut out = kernel.to_vec();
    let len = u32::try_from(records.len()).map_err(|e| e.to_string())?;
    out[section.start + 8..section.start + 12].copy_from_slice(&len.to_le_bytes());
    let at = section.start + LAUNCH_HEADER;
    out[at..at + records.len()].copy_from_slice(records);
    Ok(out)
}

/// The arguments after `qemu-system-x86_64` that boot the packed image `file` (as the shell
/// will pass it) whose root filesystem image lies at `root` in the file: the program's stdout
/// on QEMU's stdout, its stderr on QEMU's stderr, no network, no input (the stdin and control
/// ports are there, on null chardevs, because the kernel opens all four).
pub fn plain_qemu_args(file: &str, root: &Range<u64>, memory_mib: u64) -> Vec<String> {
    let mut args: Vec<String> = ["-M", MICROVM]
        .iter()
        .chain(&qemu::accel_args(qemu::Accel::Tcg))
        .map(|s| s.to_string())
        .collect();
    args.extend(["-m".into(), format!("{memory_mib}M")]);
    args.extend(NO_DEFAULTS.iter().map(|s| s.to_string()));
    args.extend([
        "-kernel".into(),
        file.into(),
        "-append".into(),
        // The image under an in-memory overlay, as `coracle run` boots it: writable.
        "coracle.root=blk coracle.root=overlay".into(),
    ]);
    let drive = qemu::root_drive_option(file.as_ref(), Some((root.start, root.end - root.start)));
    args.extend(["-drive".into(), drive.to_string_lossy().into_owned()]);
    args.extend(["-device".into(), "virtio-blk-device,drive=root".into()]);
    args.extend([
        "-device".into(),
        "virtio-serial-device,id=vs,max_ports=5".into(),
    ]);
    for (nr, id, chardev) in [
        (1, "stdout", "stdio,id=stdout".to_owned()),
        (
            2,
            "stderr",
            "file,id=stderr,path=/dev/stderr,append=on".to_owned(),
        ),
        (3, "stdin", "null,id=stdin".to_owned()),
        (4, "control", "null,id=control".to_owned()),
    ] {
        args.extend(["-chardev".into(), chardev]);
        args.extend([
            "-device".into(),
            format!("virtserialport,bus=vs.0,nr={nr},chardev={id},name=coracle.{id}"),
        ]);
    }
    args.extend([
        "-device".into(),
        "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
    ]);
    args
}

/// The plain command as one shell line (words quoted where the shell needs it).
pub fn plain_command(file: &str, root: &Range<u64>, memory_mib: u64) -> String {
    let mut line = String::from("qemu-system-x86_64");
    for arg in plain_qemu_args(file, root, memory_mib) {
        line.push(' ');
        line.push_str(&shell_quote(&arg));
    }
    line
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=,./:+@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_into_the_launch_section() {
        let kernel = crate::kernel_image::KERNEL;
        let section = launch_section(kernel).unwrap();
        let patched = kernel_with_records(kernel, b"records").unwrap();
        assert_eq!(patched.len(), kernel.len());
        assert_eq!(&patched[section.start..section.start + 8], LAUNCH_MAGIC);
        assert_eq!(
            &patched[section.start + 8..section.start + 12],
            &7u32.to_le_bytes()
        );
        assert_eq!(&patched[section.start + 16..section.start + 23], b"records");
        // Only the section changed.
        assert_eq!(patched[..section.start], kernel[..section.start]);
        assert_eq!(patched[section.end..], kernel[section.end..]);
        let too_many = vec![0u8; section.len()];
        assert!(kernel_with_records(kernel, &too_many).is_err());
        assert!(kernel_with_records(b"not an elf", b"").is_err());
    }

    #[test]
    fn the_readme_shows_the_plain_command() {
        let line = plain_command("app.img", &(8_388_608..9_437_184), 128);
        let readme = include_str!("../../../README.md");
        let shown: String = readme
            .split("<!-- packed-image-command -->")
            .nth(1)
            .expect("the README's packed image command")
            .lines()
            .filter(|l| !l.starts_with("```") && !l.trim().is_empty())
            .map(|l| l.trim().trim_end_matches('\\').trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(shown, line);
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }
}
