//! execve of programs with an interpreter (PT_INTERP), their address-space layout with and
//! without randomisation (personality ADDR_NO_RANDOMIZE, randomize_va_space), and the errors
//! of a missing or broken interpreter, all before the old image is given up.

use std::sync::atomic::Ordering;
use std::vec::Vec;

use coracle_loader::{AT_BASE, AT_ENTRY, AT_PHDR, AT_PHNUM, PIE_BASE, USER_TOP};
use coracle_vfs::NewNode;

use super::fake::*;
use crate::image::MMAP_TOP;
use crate::nr::*;
use crate::{Current, Errno, Outcome, UserRegs};

const ADDR_NO_RANDOMIZE: u64 = 0x40000;
const LD: &[u8] = b"/bin/ld.so\0";

/// (p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz)
type Ph = (u32, u32, u64, u64, u64, u64);

/// An x86_64 ELF64 file of `len` bytes with the program headers right after the header and
/// `extra` bytes written at their offsets.
fn elf(e_type: u16, entry: u64, phdrs: &[Ph], extra: &[(usize, &[u8])], len: usize) -> Vec<u8> {
    let mut f = std::vec![0u8; len];
    let put = |f: &mut Vec<u8>, at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
    put(&mut f, 0, b"\x7fELF\x02\x01\x01");
    put(&mut f, 16, &e_type.to_le_bytes());
    put(&mut f, 18, &62u16.to_le_bytes());
    put(&mut f, 20, &1u32.to_le_bytes());
    put(&mut f, 24, &entry.to_le_bytes());
    put(&mut f, 32, &64u64.to_le_bytes());
    put(&mut f, 54, &56u16.to_le_bytes());
    put(&mut f, 56, &(phdrs.len() as u16).to_le_bytes());
    for (i, &(t, fl, off, va, fs, ms)) in phdrs.iter().enumerate() {
        let at = 64 + i * 56;
        put(&mut f, at, &t.to_le_bytes());
        put(&mut f, at + 4, &fl.to_le_bytes());
        put(&mut f, at + 8, &off.to_le_bytes());
        put(&mut f, at + 16, &va.to_le_bytes());
        put(&mut f, at + 24, &va.to_le_bytes());
        put(&mut f, at + 32, &fs.to_le_bytes());
        put(&mut f, at + 40, &ms.to_le_bytes());
        put(&mut f, at + 48, &0x1000u64.to_le_bytes());
    }
    for (at, bytes) in extra {
        put(&mut f, *at, bytes);
    }
    f
}

/// A PIE linked at 0 that asks for `interp` (with its NUL), entry at 0x1000.
fn dynamic_pie(interp: &[u8]) -> Vec<u8> {
    let n = interp.len() as u64;
    elf(
        3,
        0x1000,
        &[
            (6, 4, 64, 64, 56 * 4, 56 * 4),
            (3, 4, 0x200, 0x200, n, n),
            (1, 4, 0, 0, 0x1000, 0x1000),
            (1, 5, 0x1000, 0x1000, 0x1000, 0x1000),
        ],
        &[(0x200, interp)],
        0x2000,
    )
}

/// A dynamic linker: ET_DYN, text and data with .bss, entry at 0x80; 0x3000 bytes of span.
fn ld_so() -> Vec<u8> {
    elf(
        3,
        0x80,
        &[
            (1, 5, 0, 0, 0x1000, 0x1000),
            (1, 6, 0x1000, 0x1000, 0x100, 0x2000),
        ],
        &[],
        0x1100,
    )
}

/// Creates `/bin/NAME` with `data` and `mode`.
fn install(p: &Current, name: &[u8], data: &[u8], mode: u32) {
    let root = p.sys.vfs.root().clone();
    let bin = root.lookup(&p.caller(), b"bin").unwrap();
    let f = bin.create(name, NewNode::Regular, mode, 0, 0).unwrap();
    assert_eq!(f.write_at(0, data), Ok(data.len()));
}

/// A process with /bin/dyn (asking for /bin/ld.so) and /bin/ld.so.
fn setup_dynamic() -> (Current, Fake) {
    let (p, k) = setup();
    install(&p, b"dyn", &dynamic_pie(LD), 0o755);
    install(&p, b"ld.so", &ld_so(), 0o755);
    (p, k)
}

/// execve(path) with no arguments: the new registers, or the error.
fn exec(p: &mut Current, k: &mut Fake, path: &[u8]) -> Result<UserRegs, i64> {
    let mut z = path.to_vec();
    z.push(0);
    // After an exec the scratch page is gone with the old image: a page for the path again.
    if !k.resident(SCRATCH) {
        k.map(SCRATCH, PAGE, RW);
    }
    k.poke(SCRATCH, &z);
    let mut r = regs(SYS_execve, &[SCRATCH, 0, 0]);
    match crate::dispatch(p, k, &mut r) {
        Outcome::Return(0) => Ok(r),
        Outcome::Return(v) => Err(v as i64),
        other => panic!("execve: {other:?}"),
    }
}

/// The auxiliary vector on the new stack at `sp`.
fn auxv(k: &Fake, sp: u64) -> Vec<(u64, u64)> {
    let word = |a: u64| u64::from_le_bytes(k.peek(a, 8).try_into().unwrap());
    let argc = word(sp);
    let mut at = sp + 8 * (argc + 2);
    while word(at) != 0 {
        at += 8;
    }
    at += 8;
    let mut v = Vec::new();
    loop {
        let (key, val) = (word(at), word(at + 8));
        v.push((key, val));
        if key == 0 {
            return v;
        }
        at += 16;
    }
}

fn aux(v: &[(u64, u64)], key: u64) -> u64 {
    v.iter().find(|e| e.0 == key).map(|e| e.1).unwrap()
}

/// The layout an exec produced: entry, AT_BASE, AT_ENTRY, stack pointer, program break.
fn layout_of(p: &Current, k: &Fake, r: &UserRegs) -> [u64; 5] {
    let a = auxv(k, r.rsp);
    let brk = p.process.mm.get().lock().brk_area().0;
    [r.rip, aux(&a, AT_BASE), aux(&a, AT_ENTRY), r.rsp, brk]
}

#[test]
fn a_pie_with_an_interpreter_starts_in_the_interpreter() {
    let (mut p, mut k) = setup_dynamic();
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[ADDR_NO_RANDOMIZE]),
        0
    );
    let r = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let a = auxv(&k, r.rsp);
    // The PIE at ELF_ET_DYN_BASE, ld.so right below the mmap base, as Linux with ASLR off.
    let base = MMAP_TOP - 0x3000;
    assert_eq!(aux(&a, AT_BASE), base);
    assert_eq!(r.rip, base + 0x80);
    assert_eq!(aux(&a, AT_ENTRY), PIE_BASE + 0x1000);
    assert_eq!(aux(&a, AT_PHDR), PIE_BASE + 64);
    assert_eq!(aux(&a, AT_PHNUM), 4);
    assert!(r.rsp < USER_TOP && r.rsp > USER_TOP - 0x10000);
    // Both files are private file mappings, named for /proc/<pid>/maps.
    let files: Vec<(u64, Vec<u8>)> = p
        .process
        .mm
        .get()
        .lock()
        .vmas_named()
        .filter_map(|(s, _, _, n)| match n {
            crate::mm::VmaName::File { path, .. } => Some((s, path.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(
        files,
        [
            (PIE_BASE, b"/bin/dyn".to_vec()),
            (PIE_BASE + 0x1000, b"/bin/dyn".to_vec()),
            (base, b"/bin/ld.so".to_vec()),
            (base + 0x1000, b"/bin/ld.so".to_vec()),
        ]
    );
    // The interpreter's .bss after its file bytes reads as zeros.
    assert_eq!(k.peek(base + 0x1100, 4), [0; 4]);
    // The program break starts at the end of the executable, not the interpreter.
    assert_eq!(p.process.mm.get().lock().brk_area().0, PIE_BASE + 0x2000);
}

#[test]
fn randomisation_moves_every_part_and_addr_no_randomize_stops_it() {
    let (mut p, mut k) = setup_dynamic();
    k.entropy = Some(1);
    let first = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let one = layout_of(&p, &k, &first);
    let second = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let two = layout_of(&p, &k, &second);
    for i in 0..5 {
        assert_ne!(one[i], two[i], "part {i} of {one:x?} did not move");
    }
    for l in [one, two] {
        let [_, base, entry, sp, brk] = l;
        // Linux's ranges: 2^28 pages for the PIE and mmap bases, 16 GiB for the stack,
        // 1 GiB for the break.
        assert!(
            (PIE_BASE + 0x1000..PIE_BASE + (1 << 40)).contains(&entry),
            "{l:x?}"
        );
        assert!(sp > USER_TOP - (16 << 30) - 0x10000, "{l:x?}");
        assert!(base < sp - (8 << 20) - (16 << 30) + 0x10000, "{l:x?}");
        assert!(base > USER_TOP - (1 << 41), "{l:x?}");
        let exe_end = entry - 0x1000 + 0x2000;
        assert!((exe_end..exe_end + (1 << 30)).contains(&brk), "{l:x?}");
        assert_eq!(base % 4096, 0);
    }
    // setarch -R: the flag is kept across exec, and every exec is laid out the same.
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[ADDR_NO_RANDOMIZE]),
        0
    );
    let a = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let fixed = layout_of(&p, &k, &a);
    let b = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    assert_eq!(fixed, layout_of(&p, &k, &b));
    assert_eq!(fixed[1], MMAP_TOP - 0x3000);
    assert_eq!(fixed[2], PIE_BASE + 0x1000);
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[0xffff_ffff]),
        ADDR_NO_RANDOMIZE as i64
    );
}

#[test]
fn randomize_va_space_zero_lays_every_exec_out_the_same() {
    let (mut p, mut k) = setup_dynamic();
    k.entropy = Some(7);
    p.sys.randomize_va_space.store(0, Ordering::Relaxed);
    let a = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let one = layout_of(&p, &k, &a);
    let b = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    assert_eq!(one, layout_of(&p, &k, &b));
    assert_eq!(one[2], PIE_BASE + 0x1000);
    // Level 1 randomises all but the program break.
    p.sys.randomize_va_space.store(1, Ordering::Relaxed);
    let c = exec(&mut p, &mut k, b"/bin/dyn").unwrap();
    let three = layout_of(&p, &k, &c);
    assert_ne!(three[2], one[2]);
    assert_eq!(three[4], three[2] - 0x1000 + 0x2000);
}

#[test]
fn a_missing_interpreter_is_enoent_before_the_old_image_goes() {
    let (mut p, mut k) = setup();
    install(
        &p,
        b"dyn",
        &dynamic_pie(b"/lib/ld-musl-x86_64.so.1\0"),
        0o755,
    );
    k.poke(SCRATCH + 0x800, b"still here");
    assert_eq!(exec(&mut p, &mut k, b"/bin/dyn"), Err(err(Errno::ENOENT)));
    assert_eq!(k.peek(SCRATCH + 0x800, 10), b"still here");
    assert!(k.log.iter().any(|l| l.contains("/lib/ld-musl-x86_64.so.1")));
}

#[test]
fn an_interpreter_that_is_not_a_loadable_elf_is_elibbad() {
    let mut wrong_machine = ld_so();
    wrong_machine[18] = 183; // EM_AARCH64
    let mut overlapping = ld_so();
    overlapping[64 + 56 + 16..64 + 56 + 24].copy_from_slice(&0x800u64.to_le_bytes());
    let mut script = b"#!/bin/sh\n".to_vec();
    script.resize(100, b'#');
    let cases: [(&str, Vec<u8>); 4] = [
        ("a script", script),
        ("truncated program headers", ld_so()[..100].to_vec()),
        ("another machine's", wrong_machine),
        ("overlapping segments", overlapping),
    ];
    for (what, data) in cases {
        let (mut p, mut k) = setup();
        install(&p, b"dyn", &dynamic_pie(LD), 0o755);
        install(&p, b"ld.so", &data, 0o755);
        assert_eq!(
            exec(&mut p, &mut k, b"/bin/dyn"),
            Err(err(Errno::ELIBBAD)),
            "{what}"
        );
    }
}

#[test]
fn an_interpreter_shorter_than_an_elf_header_is_eio() {
    // Linux reads the 64-byte header whole; a short read is EIO.
    for data in [Vec::new(), b"#!/bin/sh\n".to_vec(), ld_so()[..63].to_vec()] {
        let (mut p, mut k) = setup();
        install(&p, b"dyn", &dynamic_pie(LD), 0o755);
        install(&p, b"ld.so", &data, 0o755);
        assert_eq!(exec(&mut p, &mut k, b"/bin/dyn"), Err(err(Errno::EIO)));
    }
}

#[test]
fn an_interpreter_is_found_with_execs_checks() {
    // Not executable, a directory: EACCES, as open_exec says.
    let (mut p, mut k) = setup();
    install(&p, b"dyn", &dynamic_pie(LD), 0o755);
    install(&p, b"ld.so", &ld_so(), 0o644);
    assert_eq!(exec(&mut p, &mut k, b"/bin/dyn"), Err(err(Errno::EACCES)));
    let (mut p, mut k) = setup();
    install(&p, b"dyn", &dynamic_pie(b"/bin\0"), 0o755);
    assert_eq!(exec(&mut p, &mut k, b"/bin/dyn"), Err(err(Errno::EACCES)));
}

#[test]
fn a_bad_interpreter_path_is_enoexec() {
    let (mut p, mut k) = setup();
    // No NUL at the end of PT_INTERP.
    install(&p, b"dyn", &dynamic_pie(b"/bin/ld.so"), 0o755);
    install(&p, b"ld.so", &ld_so(), 0o755);
    assert_eq!(exec(&mut p, &mut k, b"/bin/dyn"), Err(err(Errno::ENOEXEC)));
}

#[test]
fn a_script_whose_interpreter_is_dynamic_runs_through_ld_so() {
    let (mut p, mut k) = setup_dynamic();
    install(&p, b"script", b"#!/bin/dyn -x\necho\n", 0o755);
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[ADDR_NO_RANDOMIZE]),
        0
    );
    let r = exec(&mut p, &mut k, b"/bin/script").unwrap();
    assert_eq!(r.rip, MMAP_TOP - 0x3000 + 0x80);
    assert_eq!(aux(&auxv(&k, r.rsp), AT_ENTRY), PIE_BASE + 0x1000);
    assert_eq!(&*p.process.cmdline.lock(), b"/bin/dyn\0-x\0/bin/script\0");
}

#[test]
fn personality_returns_the_old_persona_and_fork_keeps_it() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_personality, &[0xffff_ffff]), 0);
    // An unsigned int: the upper half of the register is ignored.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_personality,
            &[(1 << 32) | ADDR_NO_RANDOMIZE]
        ),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[0xffff_ffff]),
        ADDR_NO_RANDOMIZE as i64
    );
    let child = sys(&mut p, &mut k, SYS_fork, &[]);
    assert!(child > 0);
    let c = p.sys.process(child as u32).unwrap();
    assert_eq!(
        c.personality.load(Ordering::Relaxed),
        ADDR_NO_RANDOMIZE as u32
    );
}

#[test]
fn execveat_of_an_open_dynamic_program_runs_its_interpreter() {
    const AT_FDCWD: u64 = -100i64 as u64;
    const AT_EMPTY_PATH: u64 = 0x1000;
    const O_PATH: u64 = 0o10000000;
    let (mut p, mut k) = setup_dynamic();
    assert_eq!(
        sys(&mut p, &mut k, SYS_personality, &[ADDR_NO_RANDOMIZE]),
        0
    );
    k.poke(SCRATCH, b"/bin/dyn\0");
    let fd = sys(&mut p, &mut k, SYS_openat, &[AT_FDCWD, SCRATCH, O_PATH, 0]);
    assert!(fd >= 0, "{fd}");
    k.poke(SCRATCH, b"\0");
    let mut r = regs(SYS_execveat, &[fd as u64, SCRATCH, 0, 0, AT_EMPTY_PATH]);
    assert_eq!(crate::dispatch(&mut p, &mut k, &mut r), Outcome::Return(0));
    assert_eq!(r.rip, MMAP_TOP - 0x3000 + 0x80);
    let a = auxv(&k, r.rsp);
    assert_eq!(aux(&a, AT_ENTRY), PIE_BASE + 0x1000);
    let execfn = aux(&a, coracle_loader::AT_EXECFN);
    assert_eq!(
        k.peek(execfn, 10),
        std::format!("/dev/fd/{fd}\0").as_bytes()
    );
}
