//! The `coracle` binary; everything lives in the library so it can be unit-tested.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(coracle_tools::main_entry())
}
