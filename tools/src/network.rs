//! The container's network, as `docker run` sets it up: `--network`, `-p`, `--hostname`,
//! `--dns`, `--add-host`; the QEMU network backend and card, the kernel's address settings,
//! and the `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` the guest sees.
//!
//! `--network user` (the default) is QEMU's user-mode network: no privileges, the guest at
//! 10.0.2.15/24 behind a NAT whose gateway 10.0.2.2 is also the host (the host's
//! 127.0.0.1 is reachable from the guest at 10.0.2.2), DNS forwarded at 10.0.2.3. Published
//! ports are `hostfwd` rules. `--network none` adds no card at all, so such a VM boots
//! exactly as one without networking. `--network tap:NAME` uses an existing tap device.
//! `--network NAME` puts the VM on a Coracle network (`crate::networks`): a card on the
//! network's multicast segment with the address its record holds, and a second card on the
//! user network for `-p` and outbound traffic (the default route; docs/networks.md).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::networks::Attachment;
use crate::qemu::Machine;

/// The guest's address on QEMU's user network, its gateway and its DNS forwarder.
pub const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
pub const USER_DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
const PREFIX: u8 = 24;
/// The MAC of the user network's card beside a Coracle network's (each VM's user network is
/// its own, so every VM may have the same; QEMU would give it the next default MAC).
const USER_MAC: &str = "52:54:00:12:34:56";
/// The IPv6 prefix of the Coracle networks' segments (a ULA, RFC 4193): a VM's IPv6 address
/// is this followed by its IPv4 address, on a prefix as long as its subnet's plus 96, so
/// the networks' prefixes are as distinct as their subnets.
const ULA: [u16; 3] = [0xfd63, 0x6f72, 0x6163];

/// A VM's IPv6 address on a Coracle network's segment, with its prefix length.
pub fn segment_ipv6(a: &Attachment) -> (Ipv6Addr, u8) {
    let [x, y] =
        [0, 2].map(|i| u16::from_be_bytes([a.address.octets()[i], a.address.octets()[i + 1]]));
    let [p, q, r] = ULA;
    (Ipv6Addr::new(p, q, r, 0, 0, 0, x, y), 96 + a.network.prefix)
}

/// `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    User,
    None,
    /// An existing tap device (the guest keeps the same static address; the host side of
    /// the tap must route or bridge for it).
    Tap(String),
    /// A Coracle network (`coracle network create NAME`).
    Named(String),
}

/// Parses `--network user|none|tap:NAME`.
pub fn parse_network(text: &str) -> Result<Network, String> {
    match text {
        "user" | "default" | "bridge" => Ok(Network::User),
        "none" => Ok(Network::None),
        _ => match text.strip_prefix("tap:") {
            Some(name)
                if !name.is_empty()
                    && name.len() < 16
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
            {
                Ok(Network::Tap(name.to_owned()))
            }
            _ => crate::networks::check_name(text)
                .map(|()| Network::Named(text.to_owned()))
                .map_err(|e| {
                    format!("invalid network {text:?}: expected user, none, tap:DEV or a network name ({e})")
                }),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One `-p [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The host address to listen on; `None`: all of them, as Docker does.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub guest_port: u16,
    pub protocol: Protocol,
}

fn port(text: &str, what: &str, whole: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if p != 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!(
            "invalid {what} {text:?} in -p {whole:?}: expected a port number 1-65535"
        )),
    }
}

/// Parses `-p`: `HOST:GUEST`, `IP:HOST:GUEST`, `[IPV6]:HOST:GUEST`, each with an optional
/// `/tcp` or `/udp`. Docker's forms without a host port (a random one) are refused: QEMU's
/// forwarding cannot report which port it took.
pub fn parse_publish(whole: &str) -> Result<Publish, String> {
    let (spec, protocol) = match whole.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Protocol::Tcp),
        Some((spec, "udp")) => (spec, Protocol::Udp),
        Some((_, other)) => {
            return Err(format!(
                "invalid protocol {other:?} in -p {whole:?}: expected tcp or udp"
            ))
        }
        None => (whole, Protocol::Tcp),
    };
    let (host_ip, rest) = if let Some(v6) = spec.strip_prefix('[') {
        let (ip, rest) = v6
            .split_once("]:")
            .ok_or_else(|| format!("invalid -p {whole:?}: unclosed [IPv6 address]"))?;
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("invalid host address {ip:?} in -p {whole:?}"))?;
        (Some(ip), rest)
    } else {
        match spec.matches(':').count() {
            1 => (None, spec),
            2 => {
                let (ip, rest) = spec.split_once(':').unwrap_or_default();
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("invalid host address {ip:?} in -p {whole:?}"))?;
                (Some(ip), rest)
            }
            _ => {
                return Err(format!(
                    "invalid -p {whole:?}: expected [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp] \
                     (Coracle needs an explicit host port)"
                ))
            }
        }
    };
    let (host, guest) = rest.split_once(':').ok_or_else(|| {
        format!("invalid -p {whole:?}: expected [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]")
    })?;
    if host.is_empty() {
        return Err(format!(
            "invalid -p {whole:?}: Coracle needs an explicit host port (QEMU cannot report a \
             random one)"
        ));
    }
    Ok(Publish {
        host_ip,
        host_port: port(host, "host port", whole)?,
        guest_port: port(guest, "container port", whole)?,
        protocol,
    })
}

/// Parses `--add-host NAME:IP` (Docker's `host-gateway` is the gateway, the host's side).
pub fn parse_add_host(text: &str) -> Result<(String, IpAddr), String> {
    let (name, ip) = text
        .split_once(':')
        .ok_or_else(|| format!("invalid --add-host {text:?}: expected NAME:IP"))?;
    let ip_text = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = if ip_text == "host-gateway" {
        IpAddr::V4(GATEWAY)
    } else {
        ip_text
            .parse()
            .map_err(|_| format!("invalid IP address {ip:?} in --add-host {text:?}"))?
    };
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b == b'#') {
        return Err(format!("invalid host name {name:?} in --add-host {text:?}"));
    }
    Ok((name.to_owned(), ip))
}

fn parse_hostname(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then(|| text.to_owned())
        .ok_or_else(|| format!("invalid hostname {text:?}: letters, digits, '-' and '.' only"))
}

/// The network options of `coracle run`, flattened into its arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct NetworkArgs {
    /// Network: user (QEMU's user-mode NAT, the default), none, tap:DEV, or the NAME of a
    /// network made with `coracle network create`.
    #[arg(long = "network", alias = "net", value_name = "MODE", default_value = "user", value_parser = parse_network)]
    pub network: Network,
    /// Publish a container port: [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp] (no IP: all host
    /// addresses).
    #[arg(short = 'p', long = "publish", value_name = "SPEC", value_parser = parse_publish)]
    pub publish: Vec<Publish>,
    /// Container host name (uname's nodename, /etc/hostname, /etc/hosts).
    #[arg(long = "hostname", value_name = "NAME", value_parser = parse_hostname)]
    pub hostname: Option<String>,
    /// DNS server for /etc/resolv.conf (repeatable) [default: QEMU's forwarder 10.0.2.3].
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<IpAddr>,
    /// Add a line to /etc/hosts: NAME:IP (IP may be host-gateway).
    #[arg(long = "add-host", value_name = "NAME:IP", value_parser = parse_add_host)]
    pub add_host: Vec<(String, IpAddr)>,
    /// With `--network NAME`: the VM's address and peers, decided when it starts
    /// (`lifecycle`).
    #[arg(skip)]
    pub attachment: Option<Attachment>,
}

impl Default for NetworkArgs {
    fn default() -> Self {
        Self {
            network: Network::User,
            publish: Vec::new(),
            hostname: None,
            dns: Vec::new(),
            add_host: Vec::new(),
            attachment: None,
        }
    }
}

impl NetworkArgs {
    /// The Coracle network's name with `--network NAME`.
    pub fn named(&self) -> Option<&str> {
        match &self.network {
            Network::Named(name) => Some(name),
            _ => None,
        }
    }

    /// Checks the combination: ports are published through a user network (the default
    /// one, or the one beside a Coracle network's card).
    pub fn check(&self) -> Result<(), String> {
        if !self.publish.is_empty() && matches!(self.network, Network::None | Network::Tap(_)) {
            return Err(
                "-p needs --network user or a Coracle network (QEMU's user network forwards \
                 the ports)"
                    .into(),
            );
        }
        if !self.dns.is_empty() && self.network == Network::None {
            return Err("--dns cannot be used with --network none".into());
        }
        Ok(())
    }

    /// The QEMU arguments: the backend and the virtio-net card (none for `--network none`);
    /// on a Coracle network its card, then the user network's.
    pub fn qemu_args(&self, machine: Machine) -> Vec<OsString> {
        let backend = match &self.network {
            Network::None => return Vec::new(),
            Network::User => self.user_backend("n0"),
            Network::Tap(name) => format!("tap,id=n0,ifname={name},script=no,downscript=no"),
            // Every VM of the network joins its multicast group on 127.0.0.1: a hub that
            // never leaves the host. Without an attachment (not started through
            // `lifecycle`) the cards are left out rather than put on no network.
            Network::Named(_) => match &self.attachment {
                Some(a) => {
                    // QEMU gives every VM the same MAC: on a shared segment each needs its own.
                    let segment = format!(
                        "socket,id=n0,mcast={}:{},localaddr=127.0.0.1",
                        a.network.group, a.network.port
                    );
                    let mut out = card(&segment, machine, "n0", Some(&a.mac()));
                    out.extend(card(
                        &self.user_backend("n1"),
                        machine,
                        "n1",
                        Some(USER_MAC),
                    ));
                    return out;
                }
                None => return Vec::new(),
            },
        };
        card(&backend, machine, "n0", None)
    }

    /// QEMU's user network with id `id` and the `hostfwd` rules of `-p`.
    fn user_backend(&self, id: &str) -> String {
        let mut b = format!("user,id={id}");
        for p in &self.publish {
            let proto = match p.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            // hostfwd takes IPv4 host addresses only; IPv6 ones are refused by QEMU with its
            // own message.
            let ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_default();
            let _ = write!(
                b,
                ",hostfwd={proto}:{ip}:{}-{GUEST_IP}:{}",
                p.host_port, p.guest_port
            );
        }
        b
    }

    /// The kernel's address settings (docs/guest-protocol.md), none without a card.
    pub fn kernel_args(&self) -> Vec<String> {
        if self.network == Network::None {
            return Vec::new();
        }
        if let Some(a) = &self.attachment {
            // The segment's card by its MAC, without a gateway; the user network's card
            // carries the default route and QEMU's DNS forwarder.
            let (v6, prefix6) = segment_ipv6(a);
            return vec![
                format!("coracle.ip={}/{}", a.address, a.network.prefix),
                "coracle.gw=none".into(),
                format!("coracle.mac={}", a.mac()),
                format!("coracle.ip6={v6}/{prefix6}"),
                format!("coracle.ip1={GUEST_IP}/{PREFIX}"),
                format!("coracle.gw1={GATEWAY}"),
                format!("coracle.mac1={USER_MAC}"),
                format!("coracle.dns={USER_DNS}"),
            ];
        }
        vec![
            format!("coracle.ip={GUEST_IP}/{PREFIX}"),
            format!("coracle.gw={GATEWAY}"),
            format!("coracle.dns={USER_DNS}"),
        ]
    }

    /// `/etc/hosts` as Docker writes it: loopback names, the `--add-host` lines, then the
    /// container's own address and name; on a Coracle network also its `--name`, then a
    /// marker line and the names of the network's VMs live when it starts, which the guest
    /// keeps current as VMs start and end (Docker's embedded DNS answers these;
    /// `crate::network_peers`, docs/networks.md).
    pub fn hosts(&self, hostname: &str) -> String {
        let mut s = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for (name, ip) in &self.add_host {
            let _ = writeln!(s, "{ip}\t{name}");
        }
        match &self.attachment {
            Some(a) => {
                let _ = write!(s, "{}\t{hostname}", a.address);
                if a.name != hostname {
                    let _ = write!(s, " {}", a.name);
                }
                s.push('\n');
                let _ = writeln!(
                    s,
                    "{} {}: its other VMs, kept current by coracle",
                    coracle_abi::peer_hosts::MARKER,
                    a.network.name
                );
                for (name, ip) in &a.peers {
                    let _ = writeln!(s, "{ip}\t{name}");
                }
            }
            None if self.network != Network::None => {
                let _ = writeln!(s, "{GUEST_IP}\t{hostname}");
            }
            None => {}
        }
        s
    }

    /// `/etc/resolv.conf`: the `--dns` servers, else QEMU's forwarder (which asks the host's
    /// resolvers, as Docker's embedded copy of the host's file does).
    pub fn resolv_conf(&self) -> String {
        if self.network == Network::None {
            return String::new();
        }
        let mut s = String::new();
        if let (Some(a), true) = (&self.attachment, self.dns.is_empty()) {
            let _ = writeln!(
                s,
                "# Coracle network {}: its VMs' names are in /etc/hosts",
                a.network.name
            );
        }
        // A VM on a Coracle network reaches the forwarder through its user network's card.
        if self.dns.is_empty() {
            let _ = writeln!(s, "nameserver {USER_DNS}");
        }
        for ip in &self.dns {
            let _ = writeln!(s, "nameserver {ip}");
        }
        s
    }
}

/// `-netdev BACKEND -device CARD`: a virtio-net card on backend `id`, with `mac` if given.
fn card(backend: &str, machine: Machine, id: &str, mac: Option<&str>) -> Vec<OsString> {
    let mut device = match machine {
        Machine::Microvm => format!("virtio-net-device,netdev={id}"),
        // Modern only: virtio-drivers' PCI transport speaks virtio 1.x.
        Machine::Q35 => format!("virtio-net-pci,netdev={id},disable-legacy=on"),
    };
    if let Some(mac) = mac {
        let _ = write!(device, ",mac={mac}");
    }
    ["-netdev", backend, "-device", &device]
        .into_iter()
        .map(OsString::from)
        .collect()
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
