use std::io::Write;

use super::*;

#[test]
fn the_metapackage_names_the_kernel_package() {
    let text = "linux-image-amd64\n  Depends: linux-image-6.1.0-48-amd64\n";
    assert_eq!(
        parse_depends(text).as_deref(),
        Some("linux-image-6.1.0-48-amd64")
    );
    assert_eq!(
        parse_depends("linux-image-amd64\n  Depends: <virtual>\n"),
        None
    );
    assert_eq!(parse_depends(""), None);
    assert!(safe_name("linux-image-6.1.0-48-amd64"));
    for bad in ["", "../x", ".hidden", "a/b", "a b"] {
        assert!(!safe_name(bad), "{bad}");
    }
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A bzImage stand-in: setup code, then the compressed kernel, then more bytes.
fn bzimage(payload: &[u8]) -> Vec<u8> {
    let mut b = b"MZ setup code \xfd7zXZ\x00 not a stream ".to_vec();
    b.extend(xz(payload));
    b.extend(b"trailing bytes");
    b
}

/// Coracle's own kernel is a PVH ELF: a payload the extraction must return unchanged.
#[test]
fn the_pvh_elf_is_found_in_the_bzimage_payload() {
    let kernel = crate::kernel_image::KERNEL;
    assert_eq!(vmlinux_from_bzimage(&bzimage(kernel)).unwrap(), kernel);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(kernel).unwrap();
    let mut b = b"setup".to_vec();
    b.extend(gz.finish().unwrap());
    assert_eq!(vmlinux_from_bzimage(&b).unwrap(), kernel);
}

#[test]
fn kernels_without_a_pvh_entry_or_payload_are_refused() {
    let err = vmlinux_from_bzimage(b"MZ nothing compressed here").unwrap_err();
    assert!(err.contains("no XZ or gzip payload"), "{err}");
    // An ELF without the Xen note: the host's own /bin/true stands in.
    let elf = std::fs::read("/bin/true").unwrap();
    let err = vmlinux_from_bzimage(&bzimage(&elf)).unwrap_err();
    assert!(err.contains("PVH"), "{err}");
    assert!(check_pvh(b"\x7fELF broken").is_err());
}

fn deb(member: &str, data: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut ar = ar::Builder::new(&mut out);
        let mut add = |name: &str, bytes: &[u8]| {
            let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            ar.append(&header, bytes).unwrap();
        };
        add("debian-binary", b"2.0\n");
        add("control.tar.xz", &xz(b"control"));
        add(member, &data);
    }
    out
}

fn data_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, *bytes).unwrap();
    }
    tar.into_inner().unwrap()
}

#[test]
fn the_bzimage_is_read_out_of_the_package() {
    let tar = data_tar(&[
        ("./boot/config-6.1.0-48-amd64", b"CONFIG"),
        ("./boot/vmlinuz-6.1.0-48-amd64", b"BZIMAGE"),
        ("./lib/modules/x.ko", b"MODULE"),
    ]);
    let got = bzimage_from_deb(&deb("data.tar.xz", xz(&tar))[..]).unwrap();
    assert_eq!(got, b"BZIMAGE");
    let got = bzimage_from_deb(&deb("data.tar", tar.clone())[..]).unwrap();
    assert_eq!(got, b"BZIMAGE");
    let none = data_tar(&[("./boot/config", b"C")]);
    let err = bzimage_from_deb(&deb("data.tar.xz", xz(&none))[..]).unwrap_err();
    assert!(err.contains("no boot/vmlinuz"), "{err}");
    let err = bzimage_from_deb(&deb("other", Vec::new())[..]).unwrap_err();
    assert!(err.contains("no data.tar"), "{err}");
    assert!(bzimage_from_deb(&b"not an ar archive at all"[..]).is_err());
}
