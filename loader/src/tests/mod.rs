//! Host tests of the loader: hand-built ELF images, hostile inputs, real binaries if present,
//! and the initial stack checked byte for byte.

mod builder;
mod dynamic;
mod parse_err;
mod parse_ok;
mod real_files;
mod robustness;
mod stack;
