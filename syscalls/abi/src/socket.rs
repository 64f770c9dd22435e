//! Sockets: address families, types, levels and options, and the structs socket calls pass
//! (`uapi/linux/socket.h`, `in.h`, `in6.h`, `un.h`, `asm-generic/socket.h`, `tcp.h`).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const AF_NETLINK: u16 = 16;

pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const SOCK_SEQPACKET: u32 = 5;
/// The bits of `type` that are the type (the rest are SOCK_NONBLOCK and SOCK_CLOEXEC).
pub const SOCK_TYPE_MASK: u32 = 0xf;
pub const SOCK_NONBLOCK: u32 = 0o4000;
pub const SOCK_CLOEXEC: u32 = 0o2000000;

pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const IPPROTO_IPV6: i32 = 41;

pub const SOL_SOCKET: i32 = 1;
pub const SO_DEBUG: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_DONTROUTE: i32 = 5;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_OOBINLINE: i32 = 10;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
pub const SO_RCVLOWAT: i32 = 18;
pub const SO_SNDLOWAT: i32 = 19;
pub const SO_RCVTIMEO: i32 = 20;
pub const SO_SNDTIMEO: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;
pub const TCP_INFO: i32 = 11;
pub const TCP_CONGESTION: i32 = 13;
/// TCP_CA_NAME_MAX: the room of a congestion control name, its NUL included.
pub const TCP_CA_NAME_MAX: usize = 16;

pub const IPV6_V6ONLY: i32 = 26;

pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_DONTROUTE: u32 = 0x4;
pub const MSG_CTRUNC: u32 = 0x8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_EOR: u32 = 0x80;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_MORE: u32 = 0x8000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;

pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;
/// Most fds one SCM_RIGHTS message carries (SCM_MAX_FD).
pub const SCM_MAX_FD: usize = 253;

/// `struct sockaddr_in`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SockaddrIn {
    pub family: u16,
    /// Network byte order.
    pub port: [u8; 2],
    pub addr: [u8; 4],
    pub zero: [u8; 8],
}
const _: () = assert!(size_of::<SockaddrIn>() == 16);

/// `struct sockaddr_in6`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SockaddrIn6 {
    pub family: u16,
    pub port: [u8; 2],
    pub flowinfo: u32,
    pub addr: [u8; 16],
    pub scope_id: u32,
}
const _: () = assert!(size_of::<SockaddrIn6>() == 28);

/// The length of `sun_path` in `struct sockaddr_un`.
pub const UNIX_PATH_MAX: usize = 108;

/// `struct sockaddr_un`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SockaddrUn {
    pub family: u16,
    pub path: [u8; UNIX_PATH_MAX],
}
const _: () = assert!(size_of::<SockaddrUn>() == 110);

/// `struct sockaddr_storage`'s size: the largest address a call accepts.
pub const SOCKADDR_STORAGE: usize = 128;

/// `struct msghdr`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Msghdr {
    pub name: u64,
    pub namelen: u32,
    pub _pad1: u32,
    pub iov: u64,
    pub iovlen: u64,
    pub control: u64,
    pub controllen: u64,
    pub flags: u32,
    pub _pad2: u32,
}
const _: () = assert!(size_of::<Msghdr>() == 56);

/// `struct mmsghdr`.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Mmsghdr {
    pub hdr: Msghdr,
    pub len: u32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<Mmsghdr>() == 64);

/// `struct cmsghdr` (its data follows, aligned to 8).
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Cmsghdr {
    pub len: u64,
    pub level: i32,
    pub ty: i32,
}
const _: () = assert!(size_of::<Cmsghdr>() == 16);

/// CMSG_ALIGN.
pub const fn cmsg_align(n: usize) -> usize {
    (n + 7) & !7
}

/// `struct ucred` (SO_PEERCRED, SCM_CREDENTIALS).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Ucred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}
const _: () = assert!(size_of::<Ucred>() == 12);

/// `struct linger`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Linger {
    pub onoff: i32,
    pub linger: i32,
}
const _: () = assert!(size_of::<Linger>() == 8);

/// `struct tcp_info` (TCP_INFO) as Linux 5.5 to 6.1 define it; a longer buffer gets these
/// 232 bytes. `wscale` holds tcpi_snd_wscale and tcpi_rcv_wscale, `flags` the bits after.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct TcpInfo {
    pub state: u8,
    pub ca_state: u8,
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub options: u8,
    pub wscale: u8,
    pub flags: u8,
    pub rto: u32,
    pub ato: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    pub retrans: u32,
    pub fackets: u32,
    pub last_data_sent: u32,
    pub last_ack_sent: u32,
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt: u32,
    pub rcv_space: u32,
    pub total_retrans: u32,
    pub pacing_rate: u64,
    pub max_pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    pub min_rtt: u32,
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    pub delivery_rate: u64,
    pub busy_time: u64,
    pub rwnd_limited: u64,
    pub sndbuf_limited: u64,
    pub delivered: u32,
    pub delivered_ce: u32,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub dsack_dups: u32,
    pub reord_seen: u32,
    pub rcv_ooopack: u32,
    pub snd_wnd: u32,
}
const _: () = assert!(size_of::<TcpInfo>() == 232);

/// `struct timeval` (SO_RCVTIMEO, SO_SNDTIMEO).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timeval {
    pub sec: i64,
    pub usec: i64,
}
const _: () = assert!(size_of::<Timeval>() == 16);
