//! Real binaries from the host, when it has them. Each test says "if_present": when the file
//! is missing it asserts nothing (the test still passes), so a host without them is not an
//! error; on the development image they are all there.

use alloc::string::{String, ToString};
use std::fs;

use crate::{ElfError, ExecKind, Executable};

/// Parses `path` if it exists and returns the result.
fn parse_file(path: &str) -> Option<Result<Executable, ElfError>> {
    let bytes = fs::read(path).ok()?;
    let result = Executable::parse(&bytes);
    if let Ok(exe) = &result {
        let plan = exe.plan();
        let len = bytes.len() as u64;
        assert!(plan.copies.iter().all(|c| c.file_offset + c.len <= len));
        assert_ne!(plan.phdr, 0, "{path}: AT_PHDR not found");
        assert!(!plan.regions.is_empty());
    }
    Some(result)
}

#[test]
fn busybox_static_if_present() {
    for path in ["/bin/busybox", "/usr/bin/busybox"] {
        if let Some(r) = parse_file(path) {
            let exe = r.unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(exe.kind(), ExecKind::Exec, "{path}");
            assert_eq!(exe.plan().regions[0].start, 0x40_0000, "{path}");
        }
    }
}

#[test]
fn glibc_static_pie_ldconfig_if_present() {
    if let Some(r) = parse_file("/sbin/ldconfig") {
        let exe = r.unwrap_or_else(|e| panic!("/sbin/ldconfig: {e}"));
        assert_eq!(exe.kind(), ExecKind::Pie);
        assert_eq!(exe.plan().regions[0].start, crate::PIE_BASE);
    }
}

#[test]
fn go_static_kubectl_if_present() {
    if let Some(r) = parse_file("/usr/bin/kubectl") {
        let exe = r.unwrap_or_else(|e| panic!("/usr/bin/kubectl: {e}"));
        assert_eq!(exe.kind(), ExecKind::Exec);
    }
}

#[test]
fn dynamic_ls_is_refused_with_interpreter_if_present() {
    if let Some(r) = parse_file("/bin/ls") {
        match r {
            Err(ElfError::Dynamic { interp }) => {
                assert!(interp.contains("ld-"), "{interp}");
                let msg: String = ElfError::Dynamic { interp }.to_string();
                assert!(msg.starts_with("dynamically linked (interpreter /"));
            }
            other => panic!("/bin/ls: expected Dynamic, got {other:?}"),
        }
    }
}

/// glibc's dynamic linker and a dynamic program, placed as the kernel places them.
#[test]
fn dynamic_ls_and_its_interpreter_parse_if_present() {
    let (Ok(ls), Ok(ld)) = (fs::read("/bin/ls"), fs::read("/lib64/ld-linux-x86-64.so.2")) else {
        return;
    };
    let elf = crate::ElfFile::parse(&ls).unwrap();
    let r = elf.interp().expect("/bin/ls has PT_INTERP");
    let bytes = &ls[r.offset as usize..(r.offset + r.len) as usize];
    let path = crate::interp_path(&r, bytes).unwrap();
    assert!(path.starts_with(b"/lib"), "{path:?}");
    assert!(elf.place(crate::PIE_BASE).unwrap().plan().phdr != 0);
    let ld = crate::ElfFile::parse(&ld).unwrap();
    assert_eq!(ld.kind(), ExecKind::Pie);
    assert!(ld.interp().is_none());
    let exe = ld.place(0x7fff_f7fc_0000).unwrap();
    assert!(exe.plan().entry > 0x7fff_f7fc_0000);
}
