//! The initial stack: two layouts spelled out byte by byte from the Linux description, then
//! properties (alignment, pointers, auxv) over many argument shapes, then the limits.

use alloc::vec;
use alloc::vec::Vec;

use crate::*;

const T: u64 = 0x7fff_ffff_f000;

fn aux() -> AuxValues {
    AuxValues {
        sysinfo_ehdr: None,
        minsigstksz: 3632,
        hwcap: 0x178b_fbff,
        pagesz: 4096,
        clktck: 100,
        phdr: 0x40_0040,
        phent: 56,
        phnum: 5,
        base: 0,
        flags: 0,
        entry: 0x40_1000,
        uid: 1000,
        euid: 1001,
        gid: 1002,
        egid: 1003,
        secure: false,
        hwcap2: 2,
    }
}

const RANDOM: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    put(buf, at, &v.to_le_bytes());
}

#[test]
fn layout_matches_linux_byte_for_byte() {
    let p = StackParams {
        align_pad: 0,
        argv: &[b"/bin/true", b"a"],
        envp: &[b"X=1"],
        execfn: b"/usr/bin/true",
        random: RANDOM,
        auxv: aux(),
    };
    let st = build_stack(&p, T, 1 << 20).unwrap();
    // Worked out by hand from fs/exec.c + create_elf_tables, distances below T:
    //   8-byte slot [T-8, T); "/usr/bin/true\0" at T-22; "X=1\0" at T-26; "a\0" at T-28;
    //   "/bin/true\0" at T-38; aligned down to T-48; "x86_64\0" at T-55; random at T-71;
    //   20 auxv pairs (320 bytes) + argc, 2+1 argv, 1+1 envp words (48 bytes) below that:
    //   T-71-368 = T-439, aligned down to T-448.
    assert_eq!(st.sp, T - 448);
    let mut e = vec![0u8; 448];
    put_u64(&mut e, 0, 2);
    put_u64(&mut e, 8, T - 38);
    put_u64(&mut e, 16, T - 28);
    put_u64(&mut e, 24, 0);
    put_u64(&mut e, 32, T - 26);
    put_u64(&mut e, 40, 0);
    let auxv: [(u64, u64); 20] = [
        (51, 3632),
        (16, 0x178b_fbff),
        (6, 4096),
        (17, 100),
        (3, 0x40_0040),
        (4, 56),
        (5, 5),
        (7, 0),
        (8, 0),
        (9, 0x40_1000),
        (11, 1000),
        (12, 1001),
        (13, 1002),
        (14, 1003),
        (23, 0),
        (25, T - 71),
        (26, 2),
        (31, T - 22),
        (15, T - 55),
        (0, 0),
    ];
    for (i, (k, v)) in auxv.iter().enumerate() {
        put_u64(&mut e, 48 + 16 * i, *k);
        put_u64(&mut e, 56 + 16 * i, *v);
    }
    // 368..377 padding.
    put(&mut e, 377, &RANDOM);
    put(&mut e, 393, b"x86_64\0");
    // 400..410 padding.
    put(&mut e, 410, b"/bin/true\0a\0X=1\0/usr/bin/true\0");
    // 440..448: the zero slot below the top.
    assert_eq!(st.bytes, e);
}

#[test]
fn layout_with_vdso_and_empty_argv_matches_linux() {
    let mut a = aux();
    a.sysinfo_ehdr = Some(0x7fff_f7ff_d000);
    let p = StackParams {
        align_pad: 0,
        argv: &[],
        envp: &[],
        execfn: b"/x",
        random: RANDOM,
        auxv: a,
    };
    let st = build_stack(&p, T, 1 << 20).unwrap();
    // "/x\0" at T-11; the empty argv[0] Linux supplies at T-12; aligned to T-16; platform at
    // T-23; random at T-39; 21 pairs (336) + 4 words (32): T-407, aligned to T-416.
    assert_eq!(st.sp, T - 416);
    let mut e = vec![0u8; 416];
    put_u64(&mut e, 0, 1);
    put_u64(&mut e, 8, T - 12);
    put_u64(&mut e, 16, 0);
    put_u64(&mut e, 24, 0);
    put_u64(&mut e, 32, 33);
    put_u64(&mut e, 40, 0x7fff_f7ff_d000);
    put_u64(&mut e, 48, 51);
    put_u64(&mut e, 56, 3632);
    let tail: [(usize, u64, u64); 4] = [
        (32 + 16 * 16, 25, T - 39),
        (32 + 16 * 18, 31, T - 11),
        (32 + 16 * 19, 15, T - 23),
        (32 + 16 * 20, 0, 0),
    ];
    // The middle pairs are the same as in the test above; only check the moved ones here
    // and copy the rest from the result, then compare everything else exactly.
    put(&mut e, 64, &st.bytes[64..32 + 16 * 16]);
    put(&mut e, 32 + 16 * 17, &st.bytes[32 + 16 * 17..32 + 16 * 18]);
    for (at, k, v) in tail {
        put_u64(&mut e, at, k);
        put_u64(&mut e, at + 8, v);
    }
    put(&mut e, 377, &RANDOM);
    put(&mut e, 393, b"x86_64\0");
    put(&mut e, 404, b"\0/x\0");
    assert_eq!(st.bytes, e);
}

/// A decoded initial stack.
struct Decoded {
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    auxv: Vec<(u64, u64)>,
}

fn word(st: &InitialStack, addr: u64) -> u64 {
    let at = (addr - st.sp) as usize;
    u64::from_le_bytes(st.bytes[at..at + 8].try_into().unwrap())
}

fn c_string(st: &InitialStack, addr: u64) -> Vec<u8> {
    let at = (addr - st.sp) as usize;
    let len = st.bytes[at..].iter().position(|&b| b == 0).unwrap();
    st.bytes[at..at + len].to_vec()
}

fn decode(st: &InitialStack) -> Decoded {
    let mut a = st.sp;
    let argc = word(st, a);
    a += 8;
    let mut argv = Vec::new();
    for _ in 0..argc {
        argv.push(c_string(st, word(st, a)));
        a += 8;
    }
    assert_eq!(word(st, a), 0);
    a += 8;
    let mut envp = Vec::new();
    while word(st, a) != 0 {
        envp.push(c_string(st, word(st, a)));
        a += 8;
    }
    a += 8;
    let mut auxv = Vec::new();
    loop {
        let (k, v) = (word(st, a), word(st, a + 8));
        auxv.push((k, v));
        a += 16;
        if k == AT_NULL {
            break;
        }
    }
    Decoded { argv, envp, auxv }
}

fn aux_get(d: &Decoded, key: u64) -> u64 {
    d.auxv.iter().find(|(k, _)| *k == key).unwrap().1
}

#[test]
fn sp_is_aligned_and_pointers_are_right_for_many_shapes() {
    let strings: Vec<Vec<u8>> = (0..24)
        .map(|n| (0..n).map(|i| b'a' + (i % 26) as u8).collect())
        .collect();
    for top in [T, T - 8, T - 0x1000 + 3] {
        for argc in 0..6usize {
            for envc in 0..4usize {
                for len in [0usize, 1, 7, 8, 15, 16, 23] {
                    for vdso in [None, Some(0x7fff_f7ff_d000)] {
                        let argv: Vec<&[u8]> =
                            (0..argc).map(|i| &strings[(len + i) % 24][..]).collect();
                        let envp: Vec<&[u8]> = (0..envc)
                            .map(|i| &strings[(len * 3 + i) % 24][..])
                            .collect();
                        let execfn = &strings[len][..];
                        let mut a = aux();
                        a.sysinfo_ehdr = vdso;
                        let p = StackParams {
                            align_pad: 0,
                            argv: &argv,
                            envp: &envp,
                            execfn,
                            random: RANDOM,
                            auxv: a,
                        };
                        let st = build_stack(&p, top, 1 << 20).unwrap();
                        assert_eq!(st.sp % 16, 0, "argc {argc} envc {envc} len {len}");
                        assert_eq!(st.sp + st.bytes.len() as u64, top);
                        assert_eq!(&st.bytes[st.bytes.len() - 8..], &[0; 8]);
                        let d = decode(&st);
                        let want_argv: Vec<Vec<u8>> = if argc == 0 {
                            vec![Vec::new()]
                        } else {
                            argv.iter().map(|s| s.to_vec()).collect()
                        };
                        assert_eq!(d.argv, want_argv);
                        assert_eq!(d.envp, envp.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
                        let keys: Vec<u64> = d.auxv.iter().map(|(k, _)| *k).collect();
                        let mut want_keys = vec![];
                        if vdso.is_some() {
                            want_keys.push(AT_SYSINFO_EHDR);
                        }
                        want_keys.extend_from_slice(&[
                            AT_MINSIGSTKSZ,
                            AT_HWCAP,
                            AT_PAGESZ,
                            AT_CLKTCK,
                            AT_PHDR,
                            AT_PHENT,
                            AT_PHNUM,
                            AT_BASE,
                            AT_FLAGS,
                            AT_ENTRY,
                            AT_UID,
                            AT_EUID,
                            AT_GID,
                            AT_EGID,
                            AT_SECURE,
                            AT_RANDOM,
                            AT_HWCAP2,
                            AT_EXECFN,
                            AT_PLATFORM,
                            AT_NULL,
                        ]);
                        assert_eq!(keys, want_keys);
                        // /proc/<pid>/auxv's bytes: the decoded pairs, in order.
                        let pairs: Vec<u8> = d
                            .auxv
                            .iter()
                            .flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes()))
                            .collect();
                        assert_eq!(st.auxv(), &pairs[..]);
                        let r = (aux_get(&d, AT_RANDOM) - st.sp) as usize;
                        assert_eq!(st.bytes[r..r + 16], RANDOM);
                        assert_eq!(c_string(&st, aux_get(&d, AT_PLATFORM)), b"x86_64");
                        assert_eq!(c_string(&st, aux_get(&d, AT_EXECFN)), execfn);
                        // execfn is the topmost string, right under the 8-byte slot.
                        assert_eq!(aux_get(&d, AT_EXECFN) + execfn.len() as u64 + 1, top - 8);
                    }
                }
            }
        }
    }
}

#[test]
fn for_plan_takes_the_plan_values() {
    let exe = Executable::parse(&super::builder::exec_image()).unwrap();
    let plan = exe.plan();
    let a = AuxValues::for_plan(&plan);
    assert_eq!(
        (a.phdr, a.phent, a.phnum, a.entry),
        (plan.phdr, 56, 5, plan.entry)
    );
    assert_eq!((a.pagesz, a.clktck, a.base), (4096, 100, 0));
}

#[test]
fn too_large_arguments_are_e2big() {
    let big = vec![b'x'; 1000];
    let argv: Vec<&[u8]> = vec![&big[..]; 10];
    let p = StackParams {
        align_pad: 0,
        argv: &argv,
        envp: &[],
        execfn: b"/a",
        random: RANDOM,
        auxv: aux(),
    };
    let e = build_stack(&p, T, 4096).unwrap_err();
    assert!(matches!(e, StackError::TooBig { max: 4096, .. }), "{e:?}");
    assert!(e.is_e2big());
    assert!(build_stack(&p, T, 1 << 16).is_ok());
}

#[test]
fn a_single_string_over_max_arg_strlen_is_e2big() {
    let big = vec![b'x'; MAX_ARG_STRLEN as usize];
    let p = StackParams {
        align_pad: 0,
        argv: &[b"a"],
        envp: &[&big],
        execfn: b"/a",
        random: RANDOM,
        auxv: aux(),
    };
    let e = build_stack(&p, T, 1 << 30).unwrap_err();
    assert_eq!(
        e,
        StackError::StringTooLong {
            kind: StringKind::Env,
            index: 0,
            len: MAX_ARG_STRLEN + 1
        }
    );
    assert!(e.is_e2big());
    // One byte less fits, NUL included.
    let p = StackParams {
        align_pad: 0,
        envp: &[&big[1..]],
        ..p
    };
    assert!(build_stack(&p, T, 1 << 30).is_ok());
}

#[test]
fn nul_inside_a_string_is_refused() {
    let p = StackParams {
        align_pad: 0,
        argv: &[b"a", b"b\0c"],
        envp: &[],
        execfn: b"/a",
        random: RANDOM,
        auxv: aux(),
    };
    assert_eq!(
        build_stack(&p, T, 1 << 20).unwrap_err(),
        StackError::InteriorNul {
            kind: StringKind::Arg,
            index: 1
        }
    );
}

#[test]
fn stack_top_too_low_is_an_error_not_a_panic() {
    let p = StackParams {
        align_pad: 0,
        argv: &[b"a"],
        envp: &[],
        execfn: b"/a",
        random: RANDOM,
        auxv: aux(),
    };
    for top in [0, 1, 100, 300] {
        assert_eq!(
            build_stack(&p, top, 1 << 20).unwrap_err(),
            StackError::StackTopTooLow { stack_top: top }
        );
    }
}

#[test]
fn align_pad_moves_everything_below_the_strings() {
    let params = |align_pad| StackParams {
        align_pad,
        argv: &[b"/bin/true", b"a"],
        envp: &[b"X=1"],
        execfn: b"/usr/bin/true",
        random: RANDOM,
        auxv: aux(),
    };
    let plain = build_stack(&params(0), T, 1 << 20).unwrap();
    // The strings end 38 bytes below T; 100 more, aligned down to 16, is T-144 (not T-48):
    // everything below moves down by 96 bytes.
    let padded = build_stack(&params(100), T, 1 << 20).unwrap();
    assert_eq!(padded.sp, T - 544);
    assert_eq!(plain.sp, T - 448);
    let top = |s: &crate::InitialStack| s.bytes[s.bytes.len() - 38..].to_vec();
    assert_eq!(top(&padded), top(&plain));
    // argv[0] still points at the same string.
    let word = |s: &crate::InitialStack, i: usize| {
        u64::from_le_bytes(s.bytes[i * 8..i * 8 + 8].try_into().unwrap())
    };
    assert_eq!(word(&padded, 1), word(&plain, 1));
    // Linux's pad is below 8 KiB: a larger one is cut to 8191.
    let huge = build_stack(&params(u64::MAX), T, 1 << 20).unwrap();
    assert_eq!(huge, build_stack(&params(8191), T, 1 << 20).unwrap());
}
