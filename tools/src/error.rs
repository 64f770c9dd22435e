//! Why `coracle run` stopped, and the exit status each reason maps to.
//!
//! Statuses follow `docker run`: 125 for a failure of the tool, QEMU or the kernel, 126 when
//! the program cannot be run, 127 when it cannot be found.

/// A failure that ends `coracle run` before or instead of the program's own status.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{program}: {why}")]
    NotFound { program: String, why: String },
    #[error("{program}: cannot run it: {why}")]
    CannotRun { program: String, why: String },
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot start QEMU ({qemu}): not found; install it (Debian/Ubuntu: \
         `apt-get install qemu-system-x86`) or point --qemu or CORACLE_QEMU at it"
    )]
    QemuMissing { qemu: String },
    #[error("the kernel failed")]
    KernelFailed { log_tail: String },
    #[error(
        "the root filesystem does not fit in the guest's memory: the initrd holding it is \
         {initrd_mib} MiB and the VM has {memory_mib} MiB; give the VM more memory (e.g. -m \
         {suggested_mib}), or put the root filesystem on a read-only drive \
         (--root-device blk, the default), where it takes no guest memory"
    )]
    RootfsTooLarge {
        initrd_mib: u64,
        memory_mib: u64,
        suggested_mib: u64,
        /// What QEMU or the kernel said.
        detail: String,
    },
    #[error("the VM stopped unexpectedly ({status})")]
    VmStopped {
        status: String,
        qemu_stderr: String,
        log_tail: String,
    },
}

impl RunError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// The docker-style status `coracle run` exits with.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::NotFound { .. } => 127,
            Self::CannotRun { .. } => 126,
            Self::Usage(_)
            | Self::Io { .. }
            | Self::QemuMissing { .. }
            | Self::KernelFailed { .. }
            | Self::RootfsTooLarge { .. }
            | Self::VmStopped { .. } => 125,
        }
    }

    /// What to print after the one-line message: QEMU's own complaints and the end of the
    /// kernel log, which together usually say what went wrong.
    pub fn details(&self) -> String {
        let mut out = String::new();
        let mut section = |title: &str, body: &str| {
            let body = body.trim_end();
            if !body.is_empty() {
                out.push_str(&format!("--- {title} ---\n{body}\n"));
            }
        };
        match self {
            Self::KernelFailed { log_tail } => section("kernel log (last lines)", log_tail),
            Self::RootfsTooLarge { detail, .. } => section("qemu or kernel output", detail),
            Self::VmStopped {
                qemu_stderr,
                log_tail,
                ..
            } => {
                section("qemu output", qemu_stderr);
                section("kernel log (last lines)", log_tail);
            }
            _ => {}
        }
        out
    }
}
