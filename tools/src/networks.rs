//! Coracle networks: `coracle network create|ls|rm` and the private segment that
//! `coracle run --network NAME` puts VMs on, as a user-defined Docker network does
//! (docs/networks.md).
//!
//! A network is a file, `networks/NAME.json` beside the VMs' records (`lifecycle::root`),
//! holding its subnet and the multicast group on 127.0.0.1 that carries its Ethernet frames
//! (QEMU's `-netdev socket,mcast=`): no daemon, no privileges, and no frame leaves the host.
//! A VM's address is taken at start, under the network's lock, from the addresses the live
//! VM records (`lifecycle::Record::address`) do not hold; its MAC is Docker's `02:42` and
//! the four address bytes, so addresses and MACs stay unique together.

use std::fs;
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RunError;

/// `networks/NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    /// 12 hex digits.
    pub id: String,
    /// The network's address and prefix length (the host part is zero).
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    /// The multicast group and port on 127.0.0.1 that carry the segment's frames.
    pub group: Ipv4Addr,
    pub port: u16,
    /// Seconds since 1970.
    pub created: u64,
}

/// A VM's place on a network, decided when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub network: NetworkRecord,
    pub address: Ipv4Addr,
    /// The VM's own name (`--name`, else the generated one), also in its /etc/hosts.
    pub name: String,
    /// The other live VMs of the network, for /etc/hosts: (name, address).
    pub peers: Vec<(String, Ipv4Addr)>,
}

impl Attachment {
    /// The card's MAC address: `02:42` then the IPv4 address, as Docker makes them.
    pub fn mac(&self) -> String {
        let [a, b, c, d] = self.address.octets();
        format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
    }
}

/// Names `--network` cannot take: they are its modes (or Docker's, which mean `user`).
const RESERVED: [&str; 5] = ["user", "none", "default", "bridge", "host"];

/// Checks a network name as Docker does (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), minus the modes.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(format!(
            "invalid network name {name:?}: letters, digits, '_', '.' and '-', starting with \
             a letter or digit"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!("{name:?} is a network mode, not a network name"));
    }
    Ok(())
}

/// Parses `A.B.C.D/PREFIX` (prefix 8-29: room for at least a few VMs); the host bits must
/// be zero.
pub fn parse_subnet(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("invalid subnet {text:?}: expected A.B.C.D/PREFIX, prefix 8-29");
    let (ip, prefix) = text.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if !(8..=29).contains(&prefix) {
        return Err(bad());
    }
    if u32::from(ip) & !mask(prefix) != 0 {
        return Err(format!(
            "invalid subnet {text:?}: the host bits are not zero (did you mean {}/{prefix}?)",
            Ipv4Addr::from(u32::from(ip) & mask(prefix))
        ));
    }
    Ok((ip, prefix))
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let m = mask(a.1.min(b.1));
    u32::from(a.0) & m == u32::from(b.0) & m
}

/// The first of Docker's default pools for user networks, 172.18.0.0/16 to 172.31.0.0/16,
/// that overlaps none of `used`.
fn free_subnet(used: &[(Ipv4Addr, u8)]) -> Option<(Ipv4Addr, u8)> {
    (18..=31)
        .map(|b| (Ipv4Addr::new(172, b, 0, 0), 16))
        .find(|s| !used.iter().any(|u| overlaps(*s, *u)))
}

impl NetworkRecord {
    /// The lowest host address not in `taken`: from .2 up, as Docker hands them out (.1 is
    /// kept for a gateway; the broadcast address is never given).
    pub fn free_address(&self, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let base = u32::from(self.subnet);
        let hosts = !mask(self.prefix);
        (2..hosts)
            .map(|h| Ipv4Addr::from(base | h))
            .find(|a| !taken.contains(a))
    }
}

/// The directory of network files: `networks` beside the VMs' directory.
pub fn root() -> PathBuf {
    let vms = crate::lifecycle::root();
    vms.parent().unwrap_or(&vms).join("networks")
}

fn file_of(root: &Path, name: &str) -> PathBuf {
    root.join(format!("{name}.json"))
}

/// Every network with a readable file, by name.
pub fn list(root: &Path) -> Vec<NetworkRecord> {
    let mut all: Vec<NetworkRecord> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The network called `name`, or the error `run --network` and `rm` give.
pub fn find(root: &Path, name: &str) -> Result<NetworkRecord, RunError> {
    let bytes = fs::read(file_of(root, name)).map_err(|_| {
        RunError::Usage(format!(
            "no such network: {name} (coracle network create {name})"
        ))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RunError::Usage(format!("the network file of {name} is damaged: {e}")))
}

/// Holds the lock of all networks (`networks/.lock`) until dropped: creating, removing and
/// joining a network each read, then write, what the others read.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] fs::File);

pub fn lock(root: &Path) -> Result<Lock, RunError> {
    fs::create_dir_all(root)
        .map_err(|e| RunError::io(format!("cannot create {}", root.display()), e))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
        .map_err(|e| RunError::io("cannot open the networks' lock", e))?;
    file.lock()
        .map_err(|e| RunError::io("cannot lock the networks", e))?;
    Ok(Lock(file))
}

/// Random bytes from /dev/urandom.
fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A new network record: the subnet given or the first free one, and a multicast group and
/// port no other network uses (in 239.255.0.0/16, the organisation-local scope).
fn new_record(
    name: &str,
    subnet: Option<(Ipv4Addr, u8)>,
    others: &[NetworkRecord],
) -> Result<NetworkRecord, RunError> {
    let used: Vec<_> = others.iter().map(|n| (n.subnet, n.prefix)).collect();
    let (subnet, prefix) = match subnet {
        Some(s) => {
            if let Some(n) = others.iter().find(|n| overlaps(s, (n.subnet, n.prefix))) {
                return Err(RunError::Usage(format!(
                    "subnet {}/{} overlaps network {} ({}/{})",
                    s.0, s.1, n.name, n.subnet, n.prefix
                )));
            }
            s
        }
        None => free_subnet(&used).ok_or_else(|| {
            RunError::Usage(
                "no free subnet left in 172.18-31.0.0/16: give one with --subnet".into(),
            )
        })?,
    };
    let urandom = |e| RunError::io("cannot read /dev/urandom", e);
    let (group, port) = loop {
        let [a, b, c, d] = random::<4>().map_err(urandom)?;
        let group = Ipv4Addr::new(239, 255, a, b.max(1));
        let port = 20000 + u16::from_le_bytes([c, d]) % 40000;
        if !others.iter().any(|n| n.group == group || n.port == port) {
            break (group, port);
        }
    };
    let id: String = random::<6>()
        .map_err(urandom)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(NetworkRecord {
        name: name.to_owned(),
        id,
        subnet,
        prefix,
        group,
        port,
        created: crate::lifecycle::now_secs(),
    })
}

/// Writes `record` atomically.
fn save(root: &Path, record: &NetworkRecord) -> io::Result<()> {
    let tmp = root.join(format!(".{}.tmp", record.name));
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(record).map_err(io::Error::other)?,
    )?;
    fs::rename(tmp, file_of(root, &record.name))
}

/// The live VMs (created or running, their `coracle` alive) on network `name`, with their
/// addresses: (VM id, name, address).
pub fn members(name: &str) -> Vec<(String, String, Ipv4Addr)> {
    use crate::lifecycle::Liveness;
    crate::lifecycle::list(&crate::lifecycle::root())
        .into_iter()
        .filter(|r| r.network.as_deref() == Some(name))
        .filter(|r| matches!(r.liveness(), Liveness::Created | Liveness::Running))
        .filter_map(|r| Some((r.id, r.name, r.address?)))
        .collect()
}

/// Takes an address on network `name` for the VM whose record `save` writes, under the
/// lock, so that two VMs starting at once never share one.
pub fn join(
    name: &str,
    save_record: impl FnOnce(Ipv4Addr) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let root = root();
    let _lock = lock(&root)?;
    let network = find(&root, name)?;
    let taken: Vec<Ipv4Addr> = members(name).into_iter().map(|m| m.2).collect();
    let address = network.free_address(&taken).ok_or_else(|| {
        RunError::Usage(format!(
            "network {name} has no free address left ({}/{})",
            network.subnet, network.prefix
        ))
    })?;
    save_record(address)
}

/// The attachment of the VM `id`, named `vm_name`, that `join` gave `address` on `name`.
pub fn attachment(
    name: &str,
    id: &str,
    vm_name: &str,
    address: Ipv4Addr,
) -> Result<Attachment, RunError> {
    let network = find(&root(), name)?;
    let peers = members(name)
        .into_iter()
        .filter(|(other, _, _)| other != id)
        .map(|(_, n, a)| (n, a))
        .collect();
    Ok(Attachment {
        network,
        address,
        name: vm_name.to_owned(),
        peers,
    })
}

/// `coracle network`.
#[derive(Debug, clap::Args)]
pub struct NetworkCommand {
    #[command(subcommand)]
    pub action: NetworkAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkAction {
    /// Create a network (a private segment for `coracle run --network NAME`).
    Create {
        /// The subnet, A.B.C.D/PREFIX [default: the first free one of 172.18-31.0.0/16].
        #[arg(long, value_parser = parse_subnet)]
        subnet: Option<(Ipv4Addr, u8)>,
        #[arg(value_parser = |s: &str| check_name(s).map(|()| s.to_owned()))]
        name: String,
    },
    /// List the networks.
    #[command(alias = "list")]
    Ls,
    /// Remove networks no running VM is on.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub fn command(cmd: NetworkCommand) -> Result<u8, RunError> {
    let root = root();
    match cmd.action {
        NetworkAction::Create { subnet, name } => {
            let _lock = lock(&root)?;
            let others = list(&root);
            if others.iter().any(|n| n.name == name) {
                return Err(RunError::Usage(format!(
                    "network with name {name} already exists"
                )));
            }
            let record = new_record(&name, subnet, &others)?;
            save(&root, &record)
                .map_err(|e| RunError::io(format!("cannot write network {name}"), e))?;
            println!("{}", record.id);
            Ok(0)
        }
        NetworkAction::Ls => {
            let mut out = io::stdout().lock();
            let _ = writeln!(
                out,
                "{:<12}  {:<20}  {:<18}  TRANSPORT",
                "NETWORK ID", "NAME", "SUBNET"
            );
            for n in list(&root) {
                let subnet = format!("{}/{}", n.subnet, n.prefix);
                let _ = writeln!(
                    out,
                    "{:<12}  {:<20}  {:<18}  mcast {}:{}",
                    n.id, n.name, subnet, n.group, n.port
                );
            }
            Ok(0)
        }
        NetworkAction::Rm { names } => {
            let _lock = lock(&root)?;
            let mut status = 0;
            for name in names {
                let removed = find(&root, &name).and_then(|n| {
                    let live = members(&n.name);
                    if let Some((_, vm, _)) = live.first() {
                        return Err(RunError::Usage(format!(
                            "network {name} has running VMs ({vm}{}): stop them first",
                            if live.len() > 1 { ", ..." } else { "" }
                        )));
                    }
                    fs::remove_file(file_of(&root, &n.name))
                        .map_err(|e| RunError::io(format!("cannot remove network {name}"), e))
                });
                match removed {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("coracle: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
    }
}

#[cfg(test)]
#[path = "networks_tests.rs"]
mod tests;
