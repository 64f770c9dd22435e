//! The differential compatibility suite (compat-tests/) run against this crate's `coracle`.

fn main() {
    std::process::exit(coracle_compat_tests::main(std::path::Path::new(env!(
        "CARGO_BIN_EXE_coracle"
    ))))
}
