//! Netlink: the route family's messages and attributes (`uapi/linux/netlink.h`,
//! `rtnetlink.h`, `if_link.h`, `if_addr.h`, `if.h`, `if_arp.h`).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const NETLINK_ROUTE: i32 = 0;

/// `struct sockaddr_nl`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SockaddrNl {
    pub family: u16,
    pub pad: u16,
    /// The port id (0: the kernel).
    pub pid: u32,
    pub groups: u32,
}
const _: () = assert!(size_of::<SockaddrNl>() == 12);

/// `struct nlmsghdr`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Nlmsghdr {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}
const _: () = assert!(size_of::<Nlmsghdr>() == 16);

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// Types below this are control messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// In an acknowledgement: the request is not echoed.
pub const NLM_F_CAPPED: u16 = 0x100;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;

/// NLMSG_ALIGN and RTA_ALIGN.
pub const fn nl_align(n: usize) -> usize {
    (n + 3) & !3
}

/// `struct rtattr` (its data follows, aligned to 4).
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Rtattr {
    pub len: u16,
    pub ty: u16,
}

/// `struct ifinfomsg`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Ifinfomsg {
    pub family: u8,
    pub pad: u8,
    pub ty: u16,
    pub index: i32,
    pub flags: u32,
    pub change: u32,
}
const _: () = assert!(size_of::<Ifinfomsg>() == 16);

/// `struct ifaddrmsg`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Ifaddrmsg {
    pub family: u8,
    pub prefixlen: u8,
    pub flags: u8,
    pub scope: u8,
    pub index: u32,
}
const _: () = assert!(size_of::<Ifaddrmsg>() == 8);

/// `struct ifa_cacheinfo`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct IfaCacheinfo {
    pub prefered: u32,
    pub valid: u32,
    pub cstamp: u32,
    pub tstamp: u32,
}

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_BROADCAST: u16 = 2;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_STATS: u16 = 7;
pub const IFLA_TXQLEN: u16 = 13;
pub const IFLA_OPERSTATE: u16 = 16;
pub const IFLA_LINKMODE: u16 = 17;
/// `struct rtnl_link_stats`: 24 counters of 32 bits.
pub const RTNL_LINK_STATS_LEN: usize = 96;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_CACHEINFO: u16 = 6;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_F_PERMANENT: u32 = 0x80;
/// "Forever" in `ifa_cacheinfo`.
pub const INFINITY_LIFE_TIME: u32 = 0xffff_ffff;

pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_HOST: u8 = 254;

pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x10000;

pub const ARPHRD_ETHER: u16 = 1;
pub const ARPHRD_LOOPBACK: u16 = 772;

/// IFLA_OPERSTATE values.
pub const IF_OPER_UNKNOWN: u8 = 0;
pub const IF_OPER_UP: u8 = 6;
