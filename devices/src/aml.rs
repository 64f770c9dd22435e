//! The device objects of an ACPI definition block (DSDT or SSDT body): each `Device` with its
//! static `_HID`, `_UID`, `_STA` and `_CRS`.
//!
//! Hand-written rather than the `acpi` crate's AML interpreter: that interpreter loads the whole
//! namespace, evaluates methods and operation regions through a dozen host callbacks (memory,
//! ports, PCI, mutexes, sleeping) and is large for a kernel that boots in a few hundred
//! thousand instructions; all the kernel needs is the data QEMU (and Firecracker) declare with
//! `Name()` inside `Device()` blocks, e.g. microvm's virtio-mmio slots (`_HID "LNRO0005"` and a
//! `_CRS` with the registers and the GSI). So this is a scanner, not an interpreter: it walks
//! `Scope` and `Device` bodies, reads `Name` declarations whose value is plain data, and skips
//! every other object that carries a package length (methods, fields, conditionals,
//! processors...). An opcode it cannot size ends the scan of the enclosing body only: the
//! body's own package length says where its parent goes on. Every read is bounds-checked;
//! hostile bytes give fewer devices or an error, never a panic or an endless loop.

use alloc::vec::Vec;

use crate::resource::{self, Resources};

/// A device's hardware id: a string (`"LNRO0005"`) or a compressed EISA id (`PNP0501`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hid {
    String(Vec<u8>),
    Eisa(u32),
}

/// One `Device()` object with its static identification and resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The last name segment (e.g. `VR23`).
    pub name: [u8; 4],
    pub hid: Option<Hid>,
    pub uid: Option<u64>,
    /// `_STA` when it is a constant (bit 0: present).
    pub sta: Option<u64>,
    /// `_CRS` when it is a buffer holding a valid resource template.
    pub resources: Option<Resources>,
}

impl Device {
    /// Whether `_HID` is the string `hid`.
    pub fn hid_is(&self, hid: &str) -> bool {
        matches!(&self.hid, Some(Hid::String(s)) if s == hid.as_bytes())
    }

    /// Present unless a constant `_STA` says otherwise (ACPI 6.5 section 6.3.7).
    pub fn present(&self) -> bool {
        self.sta.is_none_or(|s| s & 1 != 0)
    }
}

/// Most nesting of scopes and devices followed (QEMU nests two or three deep).
const MAX_DEPTH: usize = 16;
/// Most devices returned (QEMU's microvm declares about 30).
const MAX_DEVICES: usize = 1024;

const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
const NAME_OP: u8 = 0x08;
const BYTE_PREFIX: u8 = 0x0a;
const WORD_PREFIX: u8 = 0x0b;
const DWORD_PREFIX: u8 = 0x0c;
const STRING_PREFIX: u8 = 0x0d;
const QWORD_PREFIX: u8 = 0x0e;
const SCOPE_OP: u8 = 0x10;
const BUFFER_OP: u8 = 0x11;
const PACKAGE_OP: u8 = 0x12;
const VAR_PACKAGE_OP: u8 = 0x13;
const METHOD_OP: u8 = 0x14;
const EXTERNAL_OP: u8 = 0x15;
const ALIAS_OP: u8 = 0x06;
const IF_OP: u8 = 0xa0;
const ELSE_OP: u8 = 0xa1;
const WHILE_OP: u8 = 0xa2;
const ONES_OP: u8 = 0xff;
const EXT_PREFIX: u8 = 0x5b;
// Second bytes after EXT_PREFIX.
const EXT_MUTEX: u8 = 0x01;
const EXT_EVENT: u8 = 0x02;
const EXT_REVISION: u8 = 0x30;
const EXT_REGION: u8 = 0x80;
const EXT_FIELD: u8 = 0x81;
const EXT_DEVICE: u8 = 0x82;
const EXT_PROCESSOR: u8 = 0x83;
const EXT_POWER_RES: u8 = 0x84;
const EXT_THERMAL_ZONE: u8 = 0x85;
const EXT_INDEX_FIELD: u8 = 0x86;
const EXT_BANK_FIELD: u8 = 0x87;

/// A cursor over AML bytes; every read is checked.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn le(&mut self, n: usize) -> Option<u64> {
        let s = self.take(n)?;
        Some(
            s.iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    /// A PkgLength (ACPI 6.5 section 20.2.4); returns the absolute end of the package (the
    /// length counts its own bytes), which must lie within the bytes.
    fn package_end(&mut self) -> Option<usize> {
        let start = self.at;
        let lead = self.byte()?;
        let follow = usize::from(lead >> 6);
        let mut len = if follow == 0 {
            usize::from(lead & 0x3f)
        } else {
            usize::from(lead & 0x0f)
        };
        for i in 0..follow {
            len |= usize::from(self.byte()?) << (4 + 8 * i);
        }
        let end = start.checked_add(len)?;
        (end >= self.at && end <= self.bytes.len()).then_some(end)
    }

    /// A NameString; returns its last segment (or `____` for the null name).
    fn name_string(&mut self) -> Option<[u8; 4]> {
        while matches!(self.peek()?, b'\\' | b'^') {
            self.at += 1;
        }
        let segments = match self.byte()? {
            0x00 => return Some(*b"____"),
            0x2e => 2,
            0x2f => usize::from(self.byte()?),
            _ => {
                self.at -= 1;
                1
            }
        };
        let mut last = *b"____";
        for _ in 0..segments {
            let seg = self.take(4)?;
            let lead_ok = seg[0].is_ascii_uppercase() || seg[0] == b'_';
            let rest_ok = seg[1..]
                .iter()
                .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
            if !lead_ok || !rest_ok {
                return None;
            }
            last.copy_from_slice(seg);
        }
        Some(last)
    }

    /// An integer constant (ComputationalData without strings and buffers).
    fn integer(&mut self) -> Option<u64> {
        match self.byte()? {
            ZERO_OP => Some(0),
            ONE_OP => Some(1),
            ONES_OP => Some(u64::MAX),
            BYTE_PREFIX => self.le(1),
            WORD_PREFIX => self.le(2),
            DWORD_PREFIX => self.le(4),
            QWORD_PREFIX => self.le(8),
            EXT_PREFIX if self.byte()? == EXT_REVISION => Some(2),
            _ => None,
        }
    }
}

/// The value of a `Name()` declaration, as far as devices need it.
enum Data<'a> {
    Integer(u64),
    String(&'a [u8]),
    Buffer(&'a [u8]),
    /// A package or another object that was skipped.
    Other,
}

fn data<'a>(c: &mut Cursor<'a>) -> Option<Data<'a>> {
    match c.peek()? {
        STRING_PREFIX => {
            c.at += 1;
            let rest = c.bytes.get(c.at..)?;
            let len = rest.iter().position(|&b| b == 0)?;
            let s = c.take(len)?;
            c.at += 1;
            Some(Data::String(s))
        }
        BUFFER_OP => {
            c.at += 1;
            let end = c.package_end()?;
            let size = c.integer()?;
            let bytes = c.bytes.get(c.at..end)?;
            c.at = end;
            // The declared size may exceed the initializer (the rest is zeros); never less.
            let used = usize::try_from(size).ok()?.min(bytes.len());
            Some(Data::Buffer(&bytes[..used]))
        }
        PACKAGE_OP | VAR_PACKAGE_OP => {
            c.at += 1;
            c.at = c.package_end()?;
            Some(Data::Other)
        }
        _ => c.integer().map(Data::Integer),
    }
}

/// The device objects of one AML definition block body (the bytes after the 36-byte table
/// header), in the order they appear.
pub fn devices(aml: &[u8]) -> Vec<Device> {
    let mut out = Vec::new();
    scan(aml, 0, aml.len(), 0, None, &mut out);
    out
}

/// Scans the term list `[start, end)`; `device` collects the names of the enclosing device.
fn scan(
    bytes: &[u8],
    start: usize,
    end: usize,
    depth: usize,
    mut device: Option<&mut Device>,
    out: &mut Vec<Device>,
) {
    let Some(window) = bytes.get(..end) else {
        return;
    };
    let mut c = Cursor {
        bytes: window,
        at: start,
    };
    while c.at < end {
        // Anything this cannot follow ends this body; the caller resumes after it.
        if step(&mut c, depth, device.as_deref_mut(), out).is_none() {
            return;
        }
    }
}

/// Reads one term object; `None` when it cannot be sized.
fn step(
    c: &mut Cursor<'_>,
    depth: usize,
    device: Option<&mut Device>,
    out: &mut Vec<Device>,
) -> Option<()> {
    match c.byte()? {
        SCOPE_OP => {
            let end = c.package_end()?;
            c.name_string()?;
            if depth < MAX_DEPTH {
                scan(c.bytes, c.at, end, depth + 1, None, out);
            }
            c.at = end;
        }
        NAME_OP => {
            let name = c.name_string()?;
            let value = data(c)?;
            if let Some(dev) = device {
                record(dev, &name, value);
            }
        }
        METHOD_OP | IF_OP | ELSE_OP | WHILE_OP => c.at = c.package_end()?,
        ALIAS_OP => {
            c.name_string()?;
            c.name_string()?;
        }
        EXTERNAL_OP => {
            c.name_string()?;
            c.take(2)?;
        }
        EXT_PREFIX => match c.byte()? {
            EXT_DEVICE => {
                let end = c.package_end()?;
                let name = c.name_string()?;
                if depth < MAX_DEPTH && out.len() < MAX_DEVICES {
                    let mut dev = Device {
                        name,
                        ..Device::default()
                    };
                    // Nested devices come after their parent in the list.
                    let index = out.len();
                    out.push(Device::default());
                    scan(c.bytes, c.at, end, depth + 1, Some(&mut dev), out);
                    out[index] = dev;
                }
                c.at = end;
            }
            EXT_FIELD | EXT_PROCESSOR | EXT_POWER_RES | EXT_THERMAL_ZONE | EXT_INDEX_FIELD
            | EXT_BANK_FIELD => c.at = c.package_end()?,
            EXT_REGION => {
                c.name_string()?;
                c.byte()?;
                c.integer()?;
                c.integer()?;
            }
            EXT_MUTEX => {
                c.name_string()?;
                c.byte()?;
            }
            EXT_EVENT => {
                c.name_string()?;
            }
            _ => return None,
        },
        _ => return None,
    }
    Some(())
}

fn record(dev: &mut Device, name: &[u8; 4], value: Data<'_>) {
    match (name, value) {
        (b"_HID", Data::String(s)) => dev.hid = Some(Hid::String(s.to_vec())),
        (b"_HID", Data::Integer(v)) => dev.hid = u32::try_from(v).ok().map(Hid::Eisa),
        (b"_UID", Data::Integer(v)) => dev.uid = Some(v),
        (b"_STA", Data::Integer(v)) => dev.sta = Some(v),
        (b"_CRS", Data::Buffer(b)) => dev.resources = resource::parse(b).ok(),
        _ => {}
    }
}

#[cfg(test)]
#[path = "aml_tests.rs"]
mod tests;
