//! The `syscall_table!` macro and argument decoding: what turns the table's lines into the
//! `SYS_*` numbers, the dispatch `match` and the list of implemented calls.
//!
//! Its only user is the table in `table.rs`; the generated documentation is `table/doc.rs`.

/// Decoding of one argument register, as the C prototype types it: `int` arguments take the
/// low 32 bits, as Linux does.
pub(super) trait FromArg {
    fn from_arg(raw: u64) -> Self;
}

impl FromArg for u64 {
    fn from_arg(raw: u64) -> Self {
        raw
    }
}

impl FromArg for i64 {
    fn from_arg(raw: u64) -> Self {
        raw as i64
    }
}

impl FromArg for u32 {
    fn from_arg(raw: u64) -> Self {
        raw as u32
    }
}

impl FromArg for i32 {
    fn from_arg(raw: u64) -> Self {
        raw as u32 as i32
    }
}

/// One implemented system call, as the table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    /// The Linux x86_64 number.
    pub nr: u64,
    /// The Linux name (`openat`).
    pub name: &'static str,
    /// The arguments as the table decodes them (`dirfd: i32, path: u64`).
    pub args: &'static str,
    /// Whether the handler also gets the caller's registers (`&mut regs` in the table).
    pub regs: bool,
    /// What is partial or differs from Linux: the `///` lines above the table line.
    pub notes: &'static [&'static str],
}

/// Each line: `SYS_name = NR => module::handler(arg: Type, ...);`, optionally with `&mut regs`
/// first in the parentheses for the handlers that read or replace the caller's registers
/// (clone, fork, execve, rt_sigreturn...), and `///` notes that go into `docs/syscalls.md`.
macro_rules! syscall_table {
    ($(
        $(#[doc = $note:literal])*
        $sys:ident = $nr:literal => $($path:ident)::+ (
            $(&mut $regs:ident $(,)?)? $( $arg:ident : $ty:ty ),* $(,)?
        );
    )*) => {
        /// The numbers of the implemented system calls, with their Linux names
        /// (the other numbers are in [`crate::names`]).
        #[allow(non_upper_case_globals)]
        pub mod nr {
            $( pub const $sys: u64 = $nr; )*
        }

        /// The implemented system calls, in number order.
        pub fn implemented() -> &'static [Syscall] {
            const LIST: &[Syscall] = &[$(Syscall {
                nr: $nr,
                name: crate::names::linux_name(stringify!($sys)),
                args: stringify!($( $arg: $ty ),*),
                regs: !<[&str]>::is_empty(&[$( stringify!($regs) )?]),
                notes: &[$( $note ),*],
            }),*];
            LIST
        }

        fn call(nr: u64, p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs)
            -> Option<SysResult>
        {
            let (_, a) = regs.syscall_args();
            match nr {
                $( $nr => {
                    let mut _raw = a.into_iter();
                    $( let $arg = <$ty as decl::FromArg>::from_arg(_raw.next().unwrap_or(0)); )*
                    Some(sys::$($path)::+(
                        p,
                        k,
                        $( { let _ = stringify!($regs); &mut *regs }, )?
                        $( $arg ),*
                    ))
                } )*
                _ => None,
            }
        }
    };
}
