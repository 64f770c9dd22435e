//! Fuzzes layer application: any bytes (tar, gzip or zstd) give a tree or an error, never a
//! panic, and whatever tree results packs into an initrd.
#![no_main]

use coracle_tools::cpio::CpioWriter;
use coracle_tools::image::layer::{apply, decompress, Limited};
use coracle_tools::image::tree::FsTree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut tree = FsTree::default();
    // Two layers from the same bytes: whiteouts and links then meet a non-empty tree.
    for _ in 0..2 {
        let Ok(stream) = decompress(data) else { return };
        if apply(&mut tree, Limited::new(stream, 16 << 20)).is_err() {
            break;
        }
    }
    let mut out = CpioWriter::new(std::io::sink());
    let _ = tree.write(&mut out);
});
