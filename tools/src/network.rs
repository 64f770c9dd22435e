//! The container's network, as `docker run` sets it up: `--network`, `-p`, `--hostname`,
//! `--dns`, `--add-host`; the QEMU network backend and card, the kernel's address settings,
//! and the `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` the guest sees.
//!
//! `--network user` (the default) is QEMU's user-mode network: no privileges, the guest at
//! 10.0.2.15/24 behind a NAT whose gateway 10.0.2.2 is also the host (the host's
//! 127.0.0.1 is reachable from the guest at 10.0.2.2), DNS forwarded at 10.0.2.3. Published
//! ports are `hostfwd` rules. `--network none` adds no card at all, so such a VM boots
//! exactly as one without networking. `--network tap:NAME` uses an existing tap device.
//! `--network NAME` puts the VM on a Coracle network (`crate::networks`): one card on the
//! network's multicast segment, the address its record holds, no gateway.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::networks::Attachment;
use crate::qemu::Machine;

/// The guest's address on QEMU's user network, its gateway and its DNS forwarder.
pub const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
pub const USER_DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
const PREFIX: u8 = 24;

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

    /// Checks the combination: ports can only be published on the user network.
    pub fn check(&self) -> Result<(), String> {
        if !self.publish.is_empty() && self.network != Network::User {
            return Err(
                "-p needs --network user (QEMU forwards the ports; a VM on a Coracle network \
                 has no NAT, see docs/networks.md)"
                    .into(),
            );
        }
        if !self.dns.is_empty() && self.network == Network::None {
            return Err("--dns cannot be used with --network none".into());
        }
        Ok(())
    }

    /// The QEMU arguments: the backend and the virtio-net card (none for `--network none`).
    pub fn qemu_args(&self, machine: Machine) -> Vec<OsString> {
        let backend = match &self.network {
            Network::None => return Vec::new(),
            Network::User => {
                let mut b = String::from("user,id=n0");
                for p in &self.publish {
                    let proto = match p.protocol {
                        Protocol::Tcp => "tcp",
                        Protocol::Udp => "udp",
                    };
                    // hostfwd takes IPv4 host addresses only; IPv6 ones are refused by QEMU
                    // with its own message.
                    let ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_default();
                    let _ = write!(
                        b,
                        ",hostfwd={proto}:{ip}:{}-{GUEST_IP}:{}",
                        p.host_port, p.guest_port
                    );
                }
                b
            }
            Network::Tap(name) => format!("tap,id=n0,ifname={name},script=no,downscript=no"),
            // Every VM of the network joins its multicast group on 127.0.0.1: a hub that
            // never leaves the host. Without an attachment (not started through
            // `lifecycle`) the card is left out rather than put on no network.
            Network::Named(_) => match &self.attachment {
                Some(a) => format!(
                    "socket,id=n0,mcast={}:{},localaddr=127.0.0.1",
                    a.network.group, a.network.port
                ),
                None => return Vec::new(),
            },
        };
        let mut device = String::from(match machine {
            Machine::Microvm => "virtio-net-device,netdev=n0",
            // Modern only: virtio-drivers' PCI transport speaks virtio 1.x.
            Machine::Q35 => "virtio-net-pci,netdev=n0,disable-legacy=on",
        });
        // QEMU gives every VM the same MAC: on a shared segment each needs its own.
        if let Some(a) = &self.attachment {
            let _ = write!(device, ",mac={}", a.mac());
        }
        ["-netdev", &backend, "-device", &device]
            .into_iter()
            .map(OsString::from)
            .collect()
    }

    /// The kernel's address settings (docs/guest-protocol.md), none without a card.
    pub fn kernel_args(&self) -> Vec<String> {
        if self.network == Network::None {
            return Vec::new();
        }
        if let Some(a) = &self.attachment {
            // No gateway and no DNS server on a Coracle network: names are in /etc/hosts.
            return vec![
                format!("coracle.ip={}/{}", a.address, a.network.prefix),
                "coracle.gw=none".into(),
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
                "# Coracle network {}: no DNS server; its VMs' names are in /etc/hosts",
                a.network.name
            );
        } else if self.dns.is_empty() {
            let _ = writeln!(s, "nameserver {USER_DNS}");
        }
        for ip in &self.dns {
            let _ = writeln!(s, "nameserver {ip}");
        }
        s
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
