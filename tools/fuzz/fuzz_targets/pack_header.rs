//! Fuzzes the packed image's header and configuration readers: any bytes give a layout or an
//! error, never a panic, and a layout that parses keeps every part inside the file.
#![no_main]

use coracle_tools::pack::config::PackedConfig;
use coracle_tools::pack::layout::{Layout, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= HEADER_LEN + 8 {
        let (len_bytes, header) = data.split_at(8);
        let file_len = u64::from_le_bytes(len_bytes.try_into().unwrap());
        if let Ok(layout) = Layout::parse(&header[..HEADER_LEN], file_len) {
            let body = file_len - HEADER_LEN as u64;
            assert!(layout.kernel.end <= body && layout.config.end <= body);
            assert!(layout.root.end <= body && layout.root.start % 4096 == 0);
            assert_eq!(Layout::parse(&layout.to_bytes(), file_len), Ok(layout));
        }
    }
    let _ = PackedConfig::parse(data);
});
