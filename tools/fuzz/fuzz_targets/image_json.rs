//! Fuzzes the JSON and reference parsers: manifests, indexes, configs, references.
#![no_main]

use coracle_tools::image::manifest::{parse_document, pick_platform, Document};
use coracle_tools::image::reference::{Reference, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Document::Index(index)) = parse_document(data, "fuzz") {
        let _ = pick_platform(&index, "fuzz");
    }
    let _ = serde_json::from_slice::<oci_spec::image::ImageConfiguration>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(r) = Reference::parse(text) {
            let _ = (r.familiar(), r.to_string());
        }
        let _ = Source::parse_transport(text);
    }
});
