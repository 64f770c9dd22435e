//! Tests of the AML scanner over definition blocks built here the way ASL compilers and QEMU
//! encode them, and over hostile bytes.

use super::*;
use crate::resource::Interrupt;
use std::vec;

/// `op` + PkgLength + `body` (the length counts its own bytes).
fn package(op: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = op.to_vec();
    let n = body.len();
    // Pick the encoding whose total length fits.
    if n + 1 < 0x40 {
        out.push((n + 1) as u8);
    } else if n + 2 < 0x1000 {
        let len = n + 2;
        out.push(0x40 | (len & 0xf) as u8);
        out.push((len >> 4) as u8);
    } else {
        let len = n + 3;
        out.push(0x80 | (len & 0xf) as u8);
        out.push((len >> 4) as u8);
        out.push((len >> 12) as u8);
    }
    out.extend_from_slice(body);
    out
}

fn name(seg: &[u8; 4], value: &[u8]) -> Vec<u8> {
    let mut v = vec![NAME_OP];
    v.extend_from_slice(seg);
    v.extend_from_slice(value);
    v
}

fn string(s: &str) -> Vec<u8> {
    let mut v = vec![STRING_PREFIX];
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn buffer(bytes: &[u8]) -> Vec<u8> {
    let mut body = vec![BYTE_PREFIX, bytes.len() as u8];
    body.extend_from_slice(bytes);
    package(&[BUFFER_OP], &body)
}

fn device(seg: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut inner = seg.to_vec();
    inner.extend_from_slice(body);
    package(&[EXT_PREFIX, EXT_DEVICE], &inner)
}

fn scope(path: &[u8], body: &[u8]) -> Vec<u8> {
    let mut inner = path.to_vec();
    inner.extend_from_slice(body);
    package(&[SCOPE_OP], &inner)
}

fn crs(base: u32, gsi: u32) -> Vec<u8> {
    let mut v = vec![0x86, 9, 0, 1];
    v.extend_from_slice(&base.to_le_bytes());
    v.extend_from_slice(&0x200u32.to_le_bytes());
    v.extend_from_slice(&[0x89, 6, 0, 0x09, 1]);
    v.extend_from_slice(&gsi.to_le_bytes());
    v.extend_from_slice(&[0x79, 0]);
    v
}

fn virtio_slot(index: u8, base: u32, gsi: u32) -> Vec<u8> {
    let seg = [b'V', b'R', b'0' + index / 10, b'0' + index % 10];
    let mut body = name(b"_HID", &string("LNRO0005"));
    body.extend(name(b"_UID", &[BYTE_PREFIX, index]));
    body.extend(name(b"_CCA", &[ONE_OP]));
    body.extend(name(b"_CRS", &buffer(&crs(base, gsi))));
    device(&seg, &body)
}

/// A microvm-like DSDT body: firmware config, a serial port, the GED with its region, field
/// and method, a power button, two virtio slots, then `\_S5` in the root scope.
fn microvm_like() -> Vec<u8> {
    let mut sb = Vec::new();
    let mut fwcf = name(b"_HID", &string("QEMU0002"));
    fwcf.extend(name(b"_STA", &[BYTE_PREFIX, 0x0b]));
    sb.extend(device(b"FWCF", &fwcf));
    let mut com1 = name(b"_HID", &[DWORD_PREFIX, 0x41, 0xd0, 0x05, 0x01]);
    com1.extend(name(b"_UID", &[ONE_OP]));
    com1.extend(name(
        b"_CRS",
        &buffer(&[0x47, 1, 0xf8, 3, 0xf8, 3, 0, 8, 0x22, 0x10, 0, 0x79, 0]),
    ));
    sb.extend(device(b"COM1", &com1));
    let mut ged = name(b"_HID", &string("ACPI0013"));
    ged.extend(name(b"_UID", &string("GED")));
    // OperationRegion (EREG, SystemMemory, 0xFEA00000, 0x04)
    ged.extend([
        EXT_PREFIX,
        EXT_REGION,
        b'E',
        b'R',
        b'E',
        b'G',
        0,
        DWORD_PREFIX,
    ]);
    ged.extend(0xfea0_0000u32.to_le_bytes());
    ged.extend([BYTE_PREFIX, 4]);
    ged.extend(package(&[EXT_PREFIX, EXT_FIELD], b"EREG\x03\x45SEL\x20"));
    ged.extend(package(&[METHOD_OP], b"_EVT\x09\x70ESEL\x60"));
    sb.extend(device(b"GED_", &ged));
    sb.extend(device(b"PWRB", &name(b"_HID", &string("PNP0C0C"))));
    sb.extend(virtio_slot(23, 0xfeb0_2e00, 47));
    sb.extend(virtio_slot(22, 0xfeb0_2c00, 46));
    let mut dsdt = scope(b"_SB_", &sb);
    let s5 = package(&[PACKAGE_OP], &[4, BYTE_PREFIX, 5, 0, 0, 0]);
    dsdt.extend(scope(b"\\", &name(b"_S5_", &s5)));
    dsdt
}

#[test]
fn finds_microvm_virtio_slots() {
    let devs = devices(&microvm_like());
    let names: Vec<_> = devs.iter().map(|d| d.name).collect();
    assert_eq!(
        names,
        vec![*b"FWCF", *b"COM1", *b"GED_", *b"PWRB", *b"VR23", *b"VR22"]
    );
    let virtio: Vec<_> = devs.iter().filter(|d| d.hid_is("LNRO0005")).collect();
    assert_eq!(virtio.len(), 2);
    assert_eq!(virtio[0].uid, Some(23));
    let r = virtio[0].resources.as_ref().unwrap();
    assert_eq!(r.memory, vec![(0xfeb0_2e00, 0x200)]);
    assert_eq!(
        r.interrupts,
        vec![Interrupt {
            gsi: 47,
            level: true,
            active_low: false
        }]
    );
    assert!(virtio[0].present());
    assert_eq!(devs[1].hid, Some(Hid::Eisa(0x0105_d041)));
    assert_eq!(devs[0].sta, Some(0x0b));
}

#[test]
fn long_package_lengths() {
    // Enough slots that the scope's PkgLength takes two and three bytes.
    let mut sb = Vec::new();
    for i in 0..24u8 {
        sb.extend(virtio_slot(
            i,
            0xfeb0_0000 + 0x200 * u32::from(i),
            24 + u32::from(i),
        ));
    }
    let mut big = Vec::new();
    for _ in 0..20 {
        big.extend(&sb);
    }
    for body in [sb, big] {
        let devs = devices(&scope(b"_SB_", &body));
        assert_eq!(devs.len() % 24, 0);
        assert!(devs.iter().all(|d| d.resources.is_some()));
    }
}

#[test]
fn unknown_opcode_ends_only_its_body() {
    // A device whose body holds an opcode the scanner cannot size (an expression at the term
    // level): its later names are lost, but the next device is still found.
    let mut odd = name(b"_HID", &string("ODD0001"));
    odd.extend([0x72, 0x60, 0x61, 0x62]); // Add (Local0, Local1, Local2)
    odd.extend(name(b"_UID", &[ONE_OP]));
    let mut sb = device(b"ODD_", &odd);
    sb.extend(virtio_slot(1, 0xfeb0_0200, 25));
    let devs = devices(&scope(b"_SB_", &sb));
    assert_eq!(devs.len(), 2);
    assert!(devs[0].hid_is("ODD0001"));
    assert_eq!(devs[0].uid, None);
    assert_eq!(devs[1].uid, Some(1));
}

#[test]
fn nested_devices_and_multi_segment_names() {
    let inner = device(b"CHLD", &name(b"_HID", &string("CHILD01")));
    let mut outer = name(b"_HID", &string("PARENT1"));
    outer.extend(inner);
    outer.extend(name(b"_UID", &[WORD_PREFIX, 0x34, 0x12]));
    // Scope (\_SB.PCI0) as a dual-name path.
    let mut path = vec![b'\\', 0x2e];
    path.extend(b"_SB_PCI0");
    let devs = devices(&scope(&path, &device(b"PRNT", &outer)));
    assert_eq!(devs.len(), 2);
    assert_eq!(devs[0].name, *b"PRNT");
    assert_eq!(devs[0].uid, Some(0x1234));
    assert!(devs[1].hid_is("CHILD01"));
}

#[test]
fn status_zero_is_not_present() {
    let mut body = name(b"_HID", &string("LNRO0005"));
    body.extend(name(b"_STA", &[ZERO_OP]));
    let devs = devices(&device(b"VR00", &body));
    assert!(!devs[0].present());
}

#[test]
fn hostile_bytes_never_panic() {
    let good = microvm_like();
    // Every truncation and every single-byte corruption.
    for cut in 0..good.len() {
        let _ = devices(&good[..cut]);
    }
    for i in 0..good.len() {
        for v in [0x00, 0x01, 0x3f, 0x40, 0x5b, 0x7f, 0x80, 0xc0, 0xff] {
            let mut bad = good.clone();
            bad[i] = v;
            let _ = devices(&bad);
        }
    }
    // Deep nesting stops at the depth limit instead of recursing without end.
    let mut deep = device(b"LEAF", &[]);
    for _ in 0..200 {
        deep = scope(b"_SB_", &deep);
    }
    assert!(devices(&deep).is_empty());
    // A package length pointing past the end is refused.
    assert!(devices(&[EXT_PREFIX, EXT_DEVICE, 0x3f, b'A', b'B', b'C', b'D']).is_empty());
}
