//! Fuzzes the `/etc/ld.so.cache` reader: any bytes give a cache or an error, never a panic,
//! and every entry of a parsed cache is found by its own soname.
#![no_main]

use coracle_tools::ldcache::LdCache;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = LdCache::parse(data) {
        for entry in cache.entries() {
            assert!(cache.lookup(&entry.soname).is_some());
        }
    }
});
