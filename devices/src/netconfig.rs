//! The network settings the host passes on the kernel command line
//! (docs/guest-protocol.md): `coracle.ip=A.B.C.D/PREFIX`, `coracle.gw=A.B.C.D`,
//! `coracle.dns=A.B.C.D[,A.B.C.D...]`.

use alloc::vec::Vec;

/// The static IPv4 configuration of the guest's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    pub address: [u8; 4],
    pub prefix: u8,
    pub gateway: Option<[u8; 4]>,
    pub dns: Vec<[u8; 4]>,
}

impl Default for NetConfig {
    /// QEMU's user network: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3.
    fn default() -> Self {
        Self {
            address: [10, 0, 2, 15],
            prefix: 24,
            gateway: Some([10, 0, 2, 2]),
            dns: alloc::vec![[10, 0, 2, 3]],
        }
    }
}

/// A dotted-quad IPv4 address (no leading `+`, no empty parts, each part 0-255).
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for slot in &mut out {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = part
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        *slot = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A network key whose value does not parse (the setting keeps its previous value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadValue;

impl NetConfig {
    /// Applies one `key=value` token; returns whether the key was a network key.
    pub fn apply(&mut self, key: &[u8], value: &[u8]) -> Result<bool, BadValue> {
        match key {
            b"coracle.ip" => {
                let mut it = value.splitn(2, |&b| b == b'/');
                let addr = parse_ipv4(it.next().unwrap_or_default()).ok_or(BadValue)?;
                let prefix = match it.next() {
                    None => 24,
                    Some(p) => core::str::from_utf8(p)
                        .ok()
                        .and_then(|p| p.parse::<u8>().ok())
                        .filter(|&p| p <= 32)
                        .ok_or(BadValue)?,
                };
                self.address = addr;
                self.prefix = prefix;
            }
            b"coracle.gw" if value == b"none" => self.gateway = None,
            b"coracle.gw" => self.gateway = Some(parse_ipv4(value).ok_or(BadValue)?),
            b"coracle.dns" => {
                let list: Option<Vec<_>> = value
                    .split(|&b| b == b',')
                    .filter(|s| !s.is_empty())
                    .map(parse_ipv4)
                    .collect();
                self.dns = list.ok_or(BadValue)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_ipv4(b"10.0.2.15"), Some([10, 0, 2, 15]));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some([255; 4]));
        for bad in [
            &b"10.0.2"[..],
            b"10.0.2.256",
            b"1..2.3",
            b"1.2.3.4.5",
            b"a.b.c.d",
            b"",
            b"1.2.3.0004",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn tokens() {
        let mut c = NetConfig::default();
        assert_eq!(c.apply(b"coracle.ip", b"192.168.7.2/16"), Ok(true));
        assert_eq!(c.apply(b"coracle.gw", b"192.168.0.1"), Ok(true));
        assert_eq!(c.apply(b"coracle.dns", b"1.1.1.1,8.8.8.8"), Ok(true));
        assert_eq!(c.apply(b"coracle.tty", b"1"), Ok(false));
        assert_eq!(c.address, [192, 168, 7, 2]);
        assert_eq!(c.prefix, 16);
        assert_eq!(c.gateway, Some([192, 168, 0, 1]));
        assert_eq!(c.dns, std::vec![[1, 1, 1, 1], [8, 8, 8, 8]]);
        assert_eq!(c.apply(b"coracle.ip", b"10.0.0.1/33"), Err(BadValue));
        assert_eq!(c.apply(b"coracle.dns", b"1.1.1"), Err(BadValue));
        assert_eq!(c.address, [192, 168, 7, 2], "a bad value keeps the old one");
        assert_eq!(c.apply(b"coracle.gw", b"none"), Ok(true));
        assert_eq!(c.gateway, None);
    }
}
