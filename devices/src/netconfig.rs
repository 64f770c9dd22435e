//! The network settings the host passes on the kernel command line
//! (docs/guest-protocol.md): per card `coracle.ip=A.B.C.D/PREFIX`, `coracle.gw=A.B.C.D`
//! `coracle.ip6=IPV6/PREFIX` and `coracle.mac=XX:XX:XX:XX:XX:XX` (the first card;
//! `coracle.ip1=`, `coracle.gw1=`, `coracle.ip61=`, `coracle.mac1=` the second, and so on),
//! and `coracle.dns=A.B.C.D[,A.B.C.D...]`.

use alloc::vec::Vec;

/// The most cards the command line configures.
pub const MAX_CARDS: usize = 4;

/// The static IPv4 configuration of one of the guest's cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardConfig {
    /// The card this configuration is for, by MAC; `None`: the first card not claimed by MAC
    /// (in the order the kernel finds them).
    pub mac: Option<[u8; 6]>,
    pub address: [u8; 4],
    pub prefix: u8,
    pub gateway: Option<[u8; 4]>,
    /// An IPv6 address on the card's link, with its prefix length (none by default).
    pub ipv6: Option<([u8; 16], u8)>,
}

impl Default for CardConfig {
    /// QEMU's user network: 10.0.2.15/24, gateway 10.0.2.2.
    fn default() -> Self {
        Self {
            mac: None,
            address: [10, 0, 2, 15],
            prefix: 24,
            gateway: Some([10, 0, 2, 2]),
            ipv6: None,
        }
    }
}

/// The guest's network settings: a configuration per card, and the DNS servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// At least one; card `i` is configured by the keys with suffix `i` (none for 0).
    pub cards: Vec<CardConfig>,
    pub dns: Vec<[u8; 4]>,
}

impl Default for NetConfig {
    /// QEMU's user network: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3.
    fn default() -> Self {
        Self {
            cards: alloc::vec![CardConfig::default()],
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

/// A MAC address, six two-digit hex parts separated by `:`.
pub fn parse_mac(text: &[u8]) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(|&b| b == b':');
    for slot in &mut out {
        let part = core::str::from_utf8(parts.next()?).ok()?;
        if part.len() != 2 {
            return None;
        }
        *slot = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A network key whose value does not parse (the setting keeps its previous value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadValue;

/// The per-card keys, the longer of two with the same start first (`ip6` before `ip`).
const CARD_KEYS: [&[u8]; 4] = [b"ip6", b"ip", b"gw", b"mac"];

/// An IPv6 address and its prefix length, `ADDR/PREFIX`.
fn parse_ipv6(value: &[u8]) -> Option<([u8; 16], u8)> {
    let (addr, prefix) = core::str::from_utf8(value).ok()?.split_once('/')?;
    let addr: core::net::Ipv6Addr = addr.parse().ok()?;
    let prefix = prefix.parse::<u8>().ok().filter(|&p| p <= 128)?;
    Some((addr.octets(), prefix))
}

/// `key` split into a per-card key's name and card index (`coracle.gw1`: `gw`, 1).
fn card_key(key: &[u8]) -> Option<(&[u8], usize)> {
    let rest = key.strip_prefix(b"coracle.")?;
    let name = CARD_KEYS.into_iter().find(|k| {
        rest.strip_prefix(*k)
            .is_some_and(|i| i.is_empty() || (i.len() == 1 && i[0].is_ascii_digit()))
    })?;
    let index = match &rest[name.len()..] {
        [] => 0,
        [d @ b'1'..=b'9'] => usize::from(d - b'0'),
        _ => return None,
    };
    (index < MAX_CARDS).then_some((name, index))
}

impl NetConfig {
    /// The first card's configuration.
    pub fn first(&self) -> CardConfig {
        self.cards.first().cloned().unwrap_or_default()
    }

    /// Which card each configuration is for, given the cards' MACs in the order they were
    /// found: `(configuration, card)` pairs in the configurations' order. A configuration with
    /// a MAC takes the card with that MAC (none if no card has it); one without takes the
    /// first card that no configuration names by MAC and none took before it.
    pub fn assign(&self, macs: &[[u8; 6]]) -> Vec<(usize, usize)> {
        let named = |m: &[u8; 6]| self.cards.iter().any(|c| c.mac.as_ref() == Some(m));
        let mut taken = alloc::vec![false; macs.len()];
        let mut out = Vec::new();
        for (i, config) in self.cards.iter().enumerate() {
            let card = (0..macs.len()).find(|&j| {
                !taken[j]
                    && match &config.mac {
                        Some(m) => macs[j] == *m,
                        None => !named(&macs[j]),
                    }
            });
            if let Some(j) = card {
                taken[j] = true;
                out.push((i, j));
            }
        }
        out
    }

    /// Applies one `key=value` token; returns whether the key was a network key.
    pub fn apply(&mut self, key: &[u8], value: &[u8]) -> Result<bool, BadValue> {
        if key == b"coracle.dns" {
            let list: Option<Vec<_>> = value
                .split(|&b| b == b',')
                .filter(|s| !s.is_empty())
                .map(parse_ipv4)
                .collect();
            self.dns = list.ok_or(BadValue)?;
            return Ok(true);
        }
        let Some((name, index)) = card_key(key) else {
            return Ok(false);
        };
        // Parsed before a card is made for it: a bad value changes nothing.
        let set: &dyn Fn(&mut CardConfig) = match name {
            b"ip" => {
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
                &move |c| {
                    c.address = addr;
                    c.prefix = prefix;
                }
            }
            b"ip6" => {
                let v6 = parse_ipv6(value).ok_or(BadValue)?;
                &move |c| c.ipv6 = Some(v6)
            }
            b"gw" if value == b"none" => &|c| c.gateway = None,
            b"gw" => {
                let gw = parse_ipv4(value).ok_or(BadValue)?;
                &move |c| c.gateway = Some(gw)
            }
            _ => {
                let mac = parse_mac(value).ok_or(BadValue)?;
                &move |c| c.mac = Some(mac)
            }
        };
        if self.cards.len() <= index {
            self.cards.resize(index + 1, CardConfig::default());
        }
        set(&mut self.cards[index]);
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
        assert_eq!(
            parse_mac(b"02:42:ac:12:00:0A"),
            Some([2, 0x42, 0xac, 0x12, 0, 10])
        );
        for bad in [
            &b"02:42:ac:12:00"[..],
            b"02:42:ac:12:00:0a:01",
            b"2:42:ac:12:00:0a",
            b"02:42:ac:12:00:zz",
            b"",
        ] {
            assert_eq!(parse_mac(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn tokens() {
        let mut c = NetConfig::default();
        assert_eq!(c.apply(b"coracle.ip", b"192.168.7.2/16"), Ok(true));
        assert_eq!(c.apply(b"coracle.gw", b"192.168.0.1"), Ok(true));
        assert_eq!(c.apply(b"coracle.dns", b"1.1.1.1,8.8.8.8"), Ok(true));
        assert_eq!(c.apply(b"coracle.tty", b"1"), Ok(false));
        assert_eq!(c.first().address, [192, 168, 7, 2]);
        assert_eq!(c.first().prefix, 16);
        assert_eq!(c.first().gateway, Some([192, 168, 0, 1]));
        assert_eq!(c.dns, std::vec![[1, 1, 1, 1], [8, 8, 8, 8]]);
        assert_eq!(c.apply(b"coracle.ip", b"10.0.0.1/33"), Err(BadValue));
        assert_eq!(c.apply(b"coracle.dns", b"1.1.1"), Err(BadValue));
        assert_eq!(
            c.first().address,
            [192, 168, 7, 2],
            "a bad value keeps the old one"
        );
        assert_eq!(c.apply(b"coracle.gw", b"none"), Ok(true));
        assert_eq!(c.first().gateway, None);
        assert_eq!(c.cards.len(), 1);
        // Without MACs, the cards in the order they were found.
        assert_eq!(c.assign(&[[2; 6], [3; 6]]), [(0, 0)]);
        assert_eq!(c.assign(&[]), []);
    }

    #[test]
    fn a_second_card() {
        let mut c = NetConfig::default();
        for (k, v) in [
            (&b"coracle.ip"[..], &b"172.18.0.2/16"[..]),
            (b"coracle.gw", b"none"),
            (b"coracle.mac", b"02:42:ac:12:00:02"),
            (b"coracle.ip1", b"10.0.2.15/24"),
            (b"coracle.gw1", b"10.0.2.2"),
            (b"coracle.mac1", b"52:54:00:12:34:56"),
        ] {
            assert_eq!(c.apply(k, v), Ok(true));
        }
        assert_eq!(
            c.cards,
            std::vec![
                CardConfig {
                    mac: Some([2, 0x42, 172, 18, 0, 2]),
                    address: [172, 18, 0, 2],
                    prefix: 16,
                    gateway: None,
                    ipv6: None,
                },
                CardConfig {
                    mac: Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
                    ..CardConfig::default()
                },
            ]
        );
        let user = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let segment = [2, 0x42, 172, 18, 0, 2];
        assert_eq!(
            c.assign(&[user, segment]),
            [(0, 1), (1, 0)],
            "by MAC, whatever the order"
        );
        assert_eq!(
            c.assign(&[segment]),
            [(0, 0)],
            "a card that is missing is left out"
        );
        assert_eq!(c.apply(b"coracle.ip6", b"fd63::ac12:2/112"), Ok(true));
        let v6 = "fd63::ac12:2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(c.cards[0].ipv6, Some((v6, 112)));
        assert_eq!(
            c.apply(b"coracle.ip61", b"fd63::1"),
            Err(BadValue),
            "no prefix"
        );
        assert_eq!(c.apply(b"coracle.ip61", b"fd63::1/129"), Err(BadValue));
        assert_eq!(c.cards[1].ipv6, None);
        assert_eq!(c.apply(b"coracle.mac2", b"bad"), Err(BadValue));
        assert_eq!(c.cards.len(), 2, "a bad value makes no card");
        assert_eq!(
            c.apply(b"coracle.ip4", b"10.0.3.15"),
            Ok(false),
            "cards 0 to 3 only"
        );
        assert_eq!(c.apply(b"coracle.ip01", b"10.0.3.15"), Ok(false));
        assert_eq!(c.apply(b"coracle.ipx", b"10.0.3.15"), Ok(false));
    }
}
