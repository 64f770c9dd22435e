//! `coracle`: runs unmodified static Linux x86_64 programs as tiny Coracle VMs under QEMU.
//!
//! The host half of the system: `cli` parses `coracle run`; `launch` picks the mode and checks
//! the command (`program` on the host, with a dynamic program's libraries found by `libraries`
//! and `ldcache` and listed by `packlist`; `resolve` inside a root filesystem); `initrd` packs it
//! with its argv/env (`env`) and the root filesystem (`rootfs`) through `cpio`; `vm` starts
//! QEMU (`qemu`) with the embedded kernel (`kernel_image`) and speaks docs/guest-protocol.md
//! (`protocol`), with the network `network` sets up (on a Coracle network of `networks`).
//! `bench` compares a program in Coracle with a Linux VM.
#![forbid(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod cpio;
pub mod env;
pub mod erofs;
pub mod error;
pub mod hostfwd;
pub mod icount;
pub mod image;
pub mod initrd;
mod kernel_image;
pub mod launch;
pub mod ldcache;
pub mod libraries;
pub mod lifecycle;
pub mod network;
pub mod network_peers;
pub mod networks;
pub mod pack;
pub mod packlist;
pub mod program;
pub mod progress;
pub mod protocol;
pub mod qemu;
pub mod resolve;
pub mod root_image;
pub mod rootfs;
pub mod signals;
mod tempdir;
pub mod terminal;
pub mod vm;
pub mod volume;
pub mod xattrs;

use std::io::Write;
use std::time::Instant;

use clap::Parser;

/// Runs the `coracle` command line and returns the process exit status.
pub fn main_entry() -> u8 {
    let started = Instant::now();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for a usage error.
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let result = match cli.command {
        cli::Command::Run(args) => args
            .into_options(&env::random_hostname(), env::host_lookup)
            .and_then(|opts| lifecycle::run(opts, started)),
        cli::Command::Bench(args) => bench::run(args),
        cli::Command::Pack(args) => pack::pack(args),
        cli::Command::Pull(args) => image::commands::pull(args),
        cli::Command::Images => image::commands::images(),
        cli::Command::Rmi(args) => image::commands::rmi(args),
        cli::Command::Tag(args) => image::commands::tag(args),
        cli::Command::Inspect(args) => image::commands::inspect(args),
        cli::Command::Build(args) => image::build::build(args),
        cli::Command::Ps(args) => lifecycle::commands::ps(args),
        cli::Command::Logs(args) => lifecycle::commands::logs(args),
        cli::Command::Stop(args) => lifecycle::commands::stop(args),
        cli::Command::Kill(args) => lifecycle::commands::kill(args),
        cli::Command::Rm(args) => lifecycle::commands::rm(args),
        cli::Command::Wait(args) => lifecycle::commands::wait(args),
        cli::Command::Exec(args) => lifecycle::exec::exec(args),
        cli::Command::Network(cmd) => networks::command(cmd),
        cli::Command::Volume { command } => volume::command(command),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "coracle: {e}");
            let _ = stderr.write_all(e.details().as_bytes());
            e.exit_status()
        }
    }
}
