//! AF_NETLINK sockets of the route family (NETLINK_ROUTE), enough for glibc's and musl's
//! `getifaddrs` and for `getaddrinfo` with AI_ADDRCONFIG: RTM_GETLINK and RTM_GETADDR dumps
//! answered with RTM_NEWLINK and RTM_NEWADDR for `lo` and `eth0`, then NLMSG_DONE.
//!
//! Replies are built when the request is sent and queued as datagrams, as Linux's dump does:
//! the records in one datagram, NLMSG_DONE in the next. Each record carries the request's
//! sequence number and the requester's port id. Other requests are answered with
//! NLMSG_ERROR (EOPNOTSUPP), as rtnetlink does for a type it has no handler for.

use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::IpAddr;

use coracle_abi::netlink::*;
use coracle_abi::poll::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use coracle_abi::socket::*;
use coracle_abi::{FromBytes, IntoBytes};
use coracle_net::{IfInfo, Network};
use coracle_vfs::WaitQueue;
use spin::Mutex;

use super::addr::SockAddr;
use super::{Ancillary, Got, Socket};
use crate::{Current, Errno};

/// The port ids in use (netlink_insert's table).
static PORTS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
/// Where netlink_autobind's search for a free negative id starts (-4096).
const ROVER_START: u32 = 0xffff_f000;

struct State {
    /// The bound port id (0: not bound yet).
    pid: u32,
    groups: u32,
    /// Datagrams waiting to be received.
    queue: VecDeque<Vec<u8>>,
}

pub(super) struct Netlink {
    kind: u32,
    /// The creator's thread group (autobind's first choice of port id).
    tgid: u32,
    net: Arc<Network>,
    st: Mutex<State>,
    wq: WaitQueue,
}

/// socket(AF_NETLINK, SOCK_RAW or SOCK_DGRAM, NETLINK_ROUTE).
pub(super) fn new(p: &Current, kind: u32, protocol: i32) -> Result<Box<dyn Socket>, Errno> {
    if kind != SOCK_RAW && kind != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(Box::new(Netlink {
        kind,
        tgid: p.process.pid,
        net: p.sys.net.clone(),
        st: Mutex::new(State {
            pid: 0,
            groups: 0,
            queue: VecDeque::new(),
        }),
        wq: WaitQueue::new(),
    }))
}

impl Netlink {
    /// The port id, bound on first use as netlink_autobind does: the process's id if free,
    /// else a negative one.
    fn autobind(&self, st: &mut State) -> u32 {
        if st.pid == 0 {
            let mut ports = PORTS.lock();
            let mut id = self.tgid;
            if id == 0 || ports.contains(&id) {
                id = ROVER_START;
                while ports.contains(&id) {
                    id -= 1;
                }
            }
            ports.insert(id);
            st.pid = id;
        }
        st.pid
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        let pid = self.st.get_mut().pid;
        if pid != 0 {
            PORTS.lock().remove(&pid);
        }
    }
}

impl Socket for Netlink {
    fn family(&self) -> u16 {
        AF_NETLINK
    }

    fn kind(&self) -> u32 {
        self.kind
    }

    fn protocol(&self) -> i32 {
        NETLINK_ROUTE
    }

    fn bind(&self, _p: &Current, addr: SockAddr) -> Result<(), Errno> {
        let SockAddr::Netlink { pid, groups } = addr else {
            return Err(Errno::EINVAL);
        };
        let mut st = self.st.lock();
        if st.pid != 0 {
            // Bound already: only the same id (or 0) may be asked for again.
            if pid != 0 && pid != st.pid {
                return Err(Errno::EINVAL);
            }
        } else if pid == 0 {
            self.autobind(&mut st);
        } else {
            let mut ports = PORTS.lock();
            if !ports.insert(pid) {
                return Err(Errno::EADDRINUSE);
            }
            st.pid = pid;
        }
        st.groups = groups;
        Ok(())
    }

    fn listen(&self, _backlog: i32, _now: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn accept(&self, _now: u64) -> Result<(Box<dyn Socket>, SockAddr), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn connect(&self, _p: &Current, addr: SockAddr, _now: u64) -> Result<(), Errno> {
        match addr {
            SockAddr::Netlink { .. } | SockAddr::Unspec => {
                let mut st = self.st.lock();
                self.autobind(&mut st);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn send(
        &self,
        _p: Option<&Current>,
        data: &[u8],
        to: Option<SockAddr>,
        _anc: &mut Ancillary,
        _now: u64,
    ) -> Result<usize, Errno> {
        match to {
            None | Some(SockAddr::Netlink { pid: 0, .. }) => {}
            // Another socket's port: user-to-user netlink is not served.
            Some(SockAddr::Netlink { .. }) => return Err(Errno::ECONNREFUSED),
            Some(_) => return Err(Errno::EINVAL),
        }
        let ifs = self.net.interfaces();
        let mut st = self.st.lock();
        let pid = self.autobind(&mut st);
        for reply in answer(data, pid, &ifs) {
            st.queue.push_back(reply);
        }
        let ready = !st.queue.is_empty();
        drop(st);
        if ready {
            self.wq.wake_all(u64::from(POLLIN | POLLRDNORM));
        }
        Ok(data.len())
    }

    fn recv(&self, buf: &mut [u8], flags: u32, _now: u64) -> Result<Got, Errno> {
        let mut st = self.st.lock();
        let dgram = if flags & MSG_PEEK != 0 {
            st.queue.front().cloned()
        } else {
            st.queue.pop_front()
        };
        let Some(dgram) = dgram else {
            return Err(Errno::EAGAIN);
        };
        let n = dgram.len().min(buf.len());
        buf[..n].copy_from_slice(&dgram[..n]);
        Ok(Got {
            n,
            len: dgram.len(),
            from: Some(SockAddr::Netlink { pid: 0, groups: 0 }),
            anc: Ancillary::default(),
        })
    }

    fn shutdown(&self, _how: i32, _now: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn name(&self) -> SockAddr {
        let st = self.st.lock();
        SockAddr::Netlink {
            pid: st.pid,
            groups: st.groups,
        }
    }

    fn peer(&self) -> Result<SockAddr, Errno> {
        Ok(SockAddr::Netlink { pid: 0, groups: 0 })
    }

    fn events(&self) -> u32 {
        let mut ev = POLLOUT | POLLWRNORM;
        if !self.st.lock().queue.is_empty() {
            ev |= POLLIN | POLLRDNORM;
        }
        ev
    }

    fn queue(&self) -> &WaitQueue {
        &self.wq
    }

    fn readable_bytes(&self) -> usize {
        self.st.lock().queue.front().map_or(0, Vec::len)
    }

    fn take_error(&self) -> Option<Errno> {
        None
    }

    fn listening(&self) -> bool {
        false
    }

    fn get_opt(&self, _level: i32, _name: i32) -> Option<Result<Vec<u8>, Errno>> {
        None
    }

    fn set_opt(&self, _level: i32, _name: i32, _val: &[u8]) -> Option<Result<(), Errno>> {
        None
    }
}

/// The datagrams answering the requests in `data` (netlink_rcv_skb: a header shorter than
/// its own size or longer than what is left ends the walk silently).
fn answer(data: &[u8], pid: u32, ifs: &[IfInfo]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Some(rest) = data.get(off..) {
        let Ok((h, _)) = Nlmsghdr::read_from_prefix(rest) else {
            break;
        };
        let len = h.len as usize;
        if len < size_of::<Nlmsghdr>() || len > rest.len() {
            break;
        }
        let msg = &rest[..len];
        let body = &msg[size_of::<Nlmsghdr>()..];
        if h.flags & NLM_F_REQUEST != 0 && h.ty >= NLMSG_MIN_TYPE {
            let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP;
            let r = match h.ty {
                RTM_GETLINK if dump => Ok(links(ifs, h.seq, pid)),
                RTM_GETLINK => link_one(ifs, body, h.seq, pid),
                RTM_GETADDR if dump => Ok(addrs(ifs, body.first().copied(), h.seq, pid)),
                _ => Err(Errno::EOPNOTSUPP),
            };
            match r {
                Ok(mut records) if dump => {
                    out.push(core::mem::take(&mut records));
                    let mut done = Msg::new(NLMSG_DONE, NLM_F_MULTI, h.seq, pid);
                    done.put(&0i32.to_ne_bytes());
                    out.push(done.finish());
                }
                Ok(mut records) => {
                    if h.flags & NLM_F_ACK != 0 {
                        records.extend(ack(&h, msg, None, pid));
                    }
                    out.push(records);
                }
                Err(e) => out.push(ack(&h, msg, Some(e), pid)),
            }
        } else if h.flags & NLM_F_ACK != 0 {
            out.push(ack(&h, msg, None, pid));
        }
        off += nl_align(len);
    }
    out
}

/// An NLMSG_ERROR record (netlink_ack): error 0 acknowledges and carries only the request's
/// header (NLM_F_CAPPED); an error carries the whole request.
fn ack(h: &Nlmsghdr, msg: &[u8], err: Option<Errno>, pid: u32) -> Vec<u8> {
    let (code, echo, flags) = match err {
        None => (0i32, &msg[..size_of::<Nlmsghdr>()], NLM_F_CAPPED),
        Some(e) => (-(e as i32), msg, 0),
    };
    let mut m = Msg::new(NLMSG_ERROR, flags, h.seq, pid);
    m.put(&code.to_ne_bytes());
    m.put(echo);
    m.finish()
}

/// One netlink record being built.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, pid: u32) -> Msg {
        let h = Nlmsghdr {
            len: 0,
            ty,
            flags,
            seq,
            pid,
        };
        Msg {
            buf: h.as_bytes().to_vec(),
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(nl_align(self.buf.len()), 0);
    }

    /// An attribute (`struct rtattr` and its data, padded to 4).
    fn attr(&mut self, ty: u16, data: &[u8]) {
        let a = Rtattr {
            len: (size_of::<Rtattr>() + data.len()) as u16,
            ty,
        };
        self.buf.extend_from_slice(a.as_bytes());
        self.put(data);
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// A NUL-terminated name as IFLA_IFNAME and IFA_LABEL carry it.
fn cstr(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    v
}

/// RTM_NEWLINK for one interface, with the attributes rtnl_fill_ifinfo puts first (in its
/// order) and those getifaddrs reads.
fn link(i: &IfInfo, seq: u32, pid: u32, flags: u16) -> Vec<u8> {
    let (ty, ifflags, oper) = if i.loopback {
        (
            ARPHRD_LOOPBACK,
            IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
            IF_OPER_UNKNOWN,
        )
    } else {
        (
            ARPHRD_ETHER,
            IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
            IF_OPER_UP,
        )
    };
    let mut m = Msg::new(RTM_NEWLINK, flags, seq, pid);
    m.put(
        Ifinfomsg {
            family: 0,
            pad: 0,
            ty,
            index: i.index as i32,
            flags: ifflags,
            change: 0,
        }
        .as_bytes(),
    );
    m.attr(IFLA_IFNAME, &cstr(i.name));
    m.attr(IFLA_TXQLEN, &1000u32.to_ne_bytes());
    m.attr(IFLA_OPERSTATE, &[oper]);
    m.attr(IFLA_LINKMODE, &[0]);
    m.attr(IFLA_MTU, &(i.mtu as u32).to_ne_bytes());
    let mac = i.mac.unwrap_or([0; 6]);
    let brd = if i.loopback { [0; 6] } else { [0xff; 6] };
    m.attr(IFLA_ADDRESS, &mac);
    m.attr(IFLA_BROADCAST, &brd);
    m.attr(IFLA_STATS, &[0; RTNL_LINK_STATS_LEN]);
    m.finish()
}

fn links(ifs: &[IfInfo], seq: u32, pid: u32) -> Vec<u8> {
    ifs.iter()
        .flat_map(|i| link(i, seq, pid, NLM_F_MULTI))
        .collect()
}

/// RTM_GETLINK without NLM_F_DUMP: the interface whose index the request names (ENODEV if
/// none, as rtnl_getlink).
fn link_one(ifs: &[IfInfo], body: &[u8], seq: u32, pid: u32) -> Result<Vec<u8>, Errno> {
    let req = Ifinfomsg::read_from_prefix(body)
        .map_err(|_| Errno::EINVAL)?
        .0;
    ifs.iter()
        .find(|i| i.index as i32 == req.index)
        .map(|i| link(i, seq, pid, 0))
        .ok_or(Errno::ENODEV)
}

/// RTM_NEWADDR records for every address of `family` (None or AF_UNSPEC: all), IPv4 first
/// as rtnl_dump_all walks the families in order.
fn addrs(ifs: &[IfInfo], family: Option<u8>, seq: u32, pid: u32) -> Vec<u8> {
    let want = |f: u16| matches!(family, None | Some(0)) || family == Some(f as u8);
    let mut out = Vec::new();
    for v6 in [false, true] {
        let fam = if v6 { AF_INET6 } else { AF_INET };
        if !want(fam) {
            continue;
        }
        for i in ifs {
            for &(ip, prefix) in &i.addrs {
                if ip.is_ipv6() != v6 {
                    continue;
                }
                out.extend(addr(i, ip, prefix, seq, pid));
            }
        }
    }
    out
}

/// One RTM_NEWADDR as inet_fill_ifaddr and inet6_fill_ifaddr format a permanent address.
fn addr(i: &IfInfo, ip: IpAddr, prefix: u8, seq: u32, pid: u32) -> Vec<u8> {
    let scope = if ip.is_loopback() {
        RT_SCOPE_HOST
    } else {
        RT_SCOPE_UNIVERSE
    };
    let family = if ip.is_ipv6() { AF_INET6 } else { AF_INET };
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, pid);
    m.put(
        Ifaddrmsg {
            family: family as u8,
            prefixlen: prefix,
            flags: IFA_F_PERMANENT as u8,
            scope,
            index: i.index,
        }
        .as_bytes(),
    );
    let forever = IfaCacheinfo {
        prefered: INFINITY_LIFE_TIME,
        valid: INFINITY_LIFE_TIME,
        cstamp: 0,
        tstamp: 0,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            m.attr(IFA_ADDRESS, &o);
            m.attr(IFA_LOCAL, &o);
            if !i.loopback && prefix < 31 {
                let mask = u32::MAX >> prefix;
                let brd = (u32::from(v4) | mask).to_be_bytes();
                m.attr(IFA_BROADCAST, &brd);
            }
            m.attr(IFA_LABEL, &cstr(i.name));
        }
        IpAddr::V6(v6) => m.attr(IFA_ADDRESS, &v6.octets()),
    }
    m.attr(IFA_FLAGS, &IFA_F_PERMANENT.to_ne_bytes());
    m.attr(IFA_CACHEINFO, forever.as_bytes());
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn lo() -> IfInfo {
        IfInfo {
            index: 1,
            name: "lo",
            mac: None,
            mtu: 65536,
            addrs: alloc::vec![(IpAddr::V4(Ipv4Addr::LOCALHOST), 8)],
            loopback: true,
        }
    }

    fn request(ty: u16, flags: u16, family: u8) -> Vec<u8> {
        let mut m = Msg::new(ty, flags, 7, 0);
        m.put(&[family]);
        m.finish()
    }

    #[test]
    fn dump_is_records_then_done() {
        let got = answer(
            &request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 0),
            42,
            &[lo()],
        );
        assert_eq!(got.len(), 2);
        let (h, _) = Nlmsghdr::read_from_prefix(&got[0]).unwrap();
        assert_eq!(
            (h.ty, h.seq, h.pid, h.len as usize),
            (RTM_NEWADDR, 7, 42, got[0].len())
        );
        let (d, _) = Nlmsghdr::read_from_prefix(&got[1]).unwrap();
        assert_eq!((d.ty, d.flags, d.len), (NLMSG_DONE, NLM_F_MULTI, 20));
    }

    #[test]
    fn unknown_request_is_eopnotsupp_and_junk_is_ignored() {
        let got = answer(&request(RTM_GETADDR, NLM_F_REQUEST, 0), 42, &[lo()]);
        assert_eq!(got.len(), 1);
        let code = i32::from_ne_bytes(got[0][16..20].try_into().unwrap());
        assert_eq!(code, -(Errno::EOPNOTSUPP as i32));
        assert!(answer(&[1, 2, 3], 42, &[lo()]).is_empty());
        let mut bad = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0);
        bad[0] = 200;
        assert!(answer(&bad, 42, &[lo()]).is_empty());
    }
}
