//! Why an ELF file was refused ([`ElfError`]) or an initial stack not built ([`StackError`]).
//!
//! The `Display` messages are read by people: the host CLI prints them when it refuses to pack
//! a binary, and the kernel logs them when an `execve` fails. Segment numbers are indices into
//! the program header table, counted from 0 (the order `readelf -l` lists them in).

use alloc::string::String;
use core::fmt;

/// Why [`crate::Executable::parse`] refused a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with `\x7fELF`.
    NotElf,
    /// The file is shorter than the 64-byte ELF64 header.
    TruncatedHeader { len: u64 },
    /// `EI_CLASS` is not ELFCLASS64.
    WrongClass { class: u8 },
    /// `EI_DATA` is not ELFDATA2LSB.
    WrongEndian { data: u8 },
    /// `EI_VERSION` or `e_version` is not EV_CURRENT.
    WrongVersion { version: u32 },
    /// `e_machine` is not EM_X86_64.
    WrongMachine { machine: u16 },
    /// `e_type` is neither ET_EXEC nor ET_DYN.
    WrongType { e_type: u16 },
    /// `e_phentsize` is not the 56 bytes of an ELF64 program header.
    BadPhentsize { phentsize: u16 },
    /// More program headers than fit in one page, which Linux refuses too.
    TooManyProgramHeaders { phnum: u16 },
    /// Program header `index` lies (partly) past the end of the file.
    ProgramHeaderPastEnd { index: usize },
    /// The PT_INTERP path of program header `index` lies past the end of the file.
    InterpPastEnd { index: usize },
    /// The PT_INTERP of program header `index` is shorter than 2 bytes, longer than PATH_MAX,
    /// or not NUL-terminated (Linux: ENOEXEC).
    BadInterpPath { index: usize },
    /// The file asks for a dynamic linker (PT_INTERP).
    Dynamic { interp: String },
    /// No PT_LOAD segment with a non-zero size.
    NoLoadSegment,
    /// The file bytes of segment `index` lie past the end of the file.
    SegmentPastEnd { index: usize },
    /// Segment `index` has more file bytes than memory bytes.
    FileszExceedsMemsz { index: usize },
    /// Segment `index` has a `p_align` that is not a power of two.
    BadAlignment { index: usize, align: u64 },
    /// Segment `index` has `p_vaddr` and `p_offset` at different offsets within a page.
    MisalignedSegment {
        index: usize,
        vaddr: u64,
        offset: u64,
    },
    /// The address range of segment `index` overflows 64 bits.
    SegmentOverflow { index: usize },
    /// Segment `index` ends (page-rounded, after the load bias) above [`crate::USER_TOP`].
    SegmentInKernelSpace { index: usize, end: u64 },
    /// Segment `index` starts (after the load bias) below [`crate::MMAP_MIN_ADDR`].
    SegmentBelowMinAddr { index: usize, start: u64 },
    /// PT_LOAD `index` has a lower address than the PT_LOAD `prev` before it.
    SegmentsUnsorted { prev: usize, index: usize },
    /// PT_LOADs `first` and `second` cover some of the same bytes.
    SegmentsOverlap { first: usize, second: usize },
    /// A static-PIE whose lowest segment lies above [`crate::PIE_BASE`].
    PieAboveBase { vaddr: u64 },
    /// `e_entry` (after the load bias) is in no PT_LOAD segment.
    EntryOutsideSegments { entry: u64 },
    /// The PT_PHDR of program header `index` points outside every PT_LOAD segment.
    PhdrOutsideSegments { index: usize },
}

/// Name of an `e_machine` value a person may recognise.
fn machine_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        3 => "EM_386",
        8 => "EM_MIPS",
        20 => "EM_PPC",
        21 => "EM_PPC64",
        22 => "EM_S390",
        40 => "EM_ARM",
        43 => "EM_SPARCV9",
        50 => "EM_IA_64",
        62 => "EM_X86_64",
        183 => "EM_AARCH64",
        243 => "EM_RISCV",
        258 => "EM_LOONGARCH",
        _ => return None,
    })
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf => write!(f, "not an ELF file"),
            Self::TruncatedHeader { len } => write!(
                f,
                "truncated: the file has {len} bytes, less than the 64-byte ELF header"
            ),
            Self::WrongClass { class: 1 } => write!(
                f,
                "32-bit ELF (ELFCLASS32): Coracle runs 64-bit x86_64 executables only"
            ),
            Self::WrongClass { class } => write!(f, "invalid ELF class {class}"),
            Self::WrongEndian { data: 2 } => write!(
                f,
                "big-endian ELF (ELFDATA2MSB): Coracle runs little-endian x86_64 only"
            ),
            Self::WrongEndian { data } => write!(f, "invalid ELF data encoding {data}"),
            Self::WrongVersion { version } => {
                write!(f, "unknown ELF version {version} (expected 1, EV_CURRENT)")
            }
            Self::WrongMachine { machine } => match machine_name(*machine) {
                Some(name) => write!(
                    f,
                    "ELF for machine {name} ({machine}), Coracle runs x86_64 only"
                ),
                None => write!(f, "ELF for machine {machine}, Coracle runs x86_64 only"),
            },
            Self::WrongType { e_type: 0 } => {
                write!(f, "ELF file of type ET_NONE: not an executable")
            }
            Self::WrongType { e_type: 1 } => write!(
                f,
                "ET_REL: a relocatable object file (.o), not an executable; link it first"
            ),
            Self::WrongType { e_type: 4 } => write!(f, "ET_CORE: a core dump, not an executable"),
            Self::WrongType { e_type } => write!(
                f,
                "ELF type {e_type:#x} is not an executable (expected ET_EXEC or ET_DYN)"
            ),
            Self::BadPhentsize { phentsize } => write!(
                f,
                "program header entries are {phentsize} bytes, not the 56 of ELF64"
            ),
            Self::TooManyProgramHeaders { phnum } => write!(
                f,
                "{phnum} program headers: more than fit in one page, which Linux refuses too"
            ),
            Self::ProgramHeaderPastEnd { index } => write!(
                f,
                "truncated: program header {index} lies past the end of the file"
            ),
            Self::InterpPastEnd { index } => write!(
                f,
                "truncated: the interpreter path (program header {index}) lies past the end of \
                 the file"
            ),
            Self::BadInterpPath { index } => write!(
                f,
                "the interpreter path (program header {index}) is empty, longer than PATH_MAX \
                 or not NUL-terminated"
            ),
            Self::Dynamic { interp } => write!(
                f,
                "dynamically linked (interpreter {interp}): Coracle runs static executables \
                 only for now"
            ),
            Self::NoLoadSegment => write!(f, "no loadable (PT_LOAD) segment"),
            Self::SegmentPastEnd { index } => write!(
                f,
                "truncated: the data of segment {index} lies past the end of the file"
            ),
            Self::FileszExceedsMemsz { index } => {
                write!(f, "segment {index} has p_filesz > p_memsz")
            }
            Self::BadAlignment { index, align } => write!(
                f,
                "segment {index} has p_align {align:#x}, which is not a power of two"
            ),
            Self::MisalignedSegment {
                index,
                vaddr,
                offset,
            } => write!(
                f,
                "segment {index} cannot be mapped: p_vaddr {vaddr:#x} and p_offset {offset:#x} \
                 differ modulo the page size"
            ),
            Self::SegmentOverflow { index } => {
                write!(f, "segment {index} address range overflows")
            }
            Self::SegmentInKernelSpace { index, end } => write!(
                f,
                "segment {index} reaches kernel space (ends at {end:#x}, user space ends at \
                 {:#x})",
                crate::USER_TOP
            ),
            Self::SegmentBelowMinAddr { index, start } => write!(
                f,
                "segment {index} starts at {start:#x}, below the lowest mappable address {:#x}",
                crate::MMAP_MIN_ADDR
            ),
            Self::SegmentsUnsorted { prev, index } => write!(
                f,
                "PT_LOAD segments {prev} and {index} are not sorted by address"
            ),
            Self::SegmentsOverlap { first, second } => {
                write!(f, "PT_LOAD segments {first} and {second} overlap")
            }
            Self::PieAboveBase { vaddr } => write!(
                f,
                "static-PIE's lowest segment is at {vaddr:#x}, above the load base {:#x}",
                crate::PIE_BASE
            ),
            Self::EntryOutsideSegments { entry } => {
                write!(f, "entry point {entry:#x} is outside every PT_LOAD segment")
            }
            Self::PhdrOutsideSegments { index } => write!(
                f,
                "PT_PHDR (program header {index}) points outside every PT_LOAD segment"
            ),
        }
    }
}

/// Which string of [`crate::StackParams`] a [`StackError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringKind {
    Arg,
    Env,
    ExecFn,
}

impl fmt::Display for StringKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Arg => "argument",
            Self::Env => "environment string",
            Self::ExecFn => "executable path",
        })
    }
}

/// Why [`crate::build_stack`] could not lay out the initial stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackError {
    /// The whole image needs `needed` bytes, more than the `max` allowed (Linux: E2BIG).
    TooBig { needed: u64, max: u64 },
    /// One string, with its NUL, is longer than [`crate::MAX_ARG_STRLEN`] (Linux: E2BIG).
    StringTooLong {
        kind: StringKind,
        index: usize,
        len: u64,
    },
    /// A string contains a NUL byte, so the program would see it cut short.
    InteriorNul { kind: StringKind, index: usize },
    /// The image does not fit between address 0 and `stack_top`.
    StackTopTooLow { stack_top: u64 },
}

impl StackError {
    /// Whether Linux reports this case as `E2BIG` from `execve` (else it is a kernel bug or
    /// `EINVAL`-like input).
    pub fn is_e2big(&self) -> bool {
        matches!(self, Self::TooBig { .. } | Self::StringTooLong { .. })
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooBig { needed, max } => write!(
                f,
                "arguments and environment too large: the initial stack needs {needed} bytes, \
                 at most {max} allowed"
            ),
            Self::StringTooLong { kind, index, len } => write!(
                f,
                "{kind} {index} is {len} bytes long, more than the {} Linux allows",
                crate::MAX_ARG_STRLEN
            ),
            Self::InteriorNul { kind, index } => {
                write!(f, "{kind} {index} contains a NUL byte")
            }
            Self::StackTopTooLow { stack_top } => write!(
                f,
                "stack top {stack_top:#x} is too low for the initial stack"
            ),
        }
    }
}
