//! The stack's last moments when the machine stops: every socket closed as the exit of its
//! processes would close it, and a test of whether what was sent has reached the peer.
//!
//! When a container's PID 1 ends, Linux kills every process of its PID namespace and closes
//! their files: each TCP connection sends its FIN after its queued data (or an RST when data
//! was left unread, `tcp_close`), and the kernel keeps the orphaned connections going until
//! the peer has acknowledged them. A VM that stopped at once lost its last segments (a
//! server's answer, its FIN) whenever they were still queued or unacknowledged, and the peer
//! waited forever. The kernel calls [`Network::close_all`] when the VM is about to stop, then
//! runs the stack until [`Network::drained`] (bounded by its own deadline).

use smoltcp::iface::SocketSet;
use smoltcp::socket::{tcp, Socket};

use crate::stack::{Kind, Network};

impl Network {
    /// Closes every TCP socket as the exit of its process would (FIN after the queued data,
    /// RST when received data was left unread; listeners stop listening) and runs the stack,
    /// which sends what that queued. UDP sockets stay open so that their queued datagrams
    /// still leave. The socket files that remain see a closed socket.
    pub fn close_all(&self, now_ns: u64) {
        self.with(now_ns, |inner| {
            for sock in inner.socks.values_mut() {
                if let Kind::Tcp(t) = &mut sock.kind {
                    t.close(&mut inner.ifs, &mut inner.ports, &mut inner.orphans);
                }
            }
        });
    }

    /// Whether everything sent on the NIC has reached the peer: every TCP connection there has
    /// its data and FIN acknowledged (FIN-WAIT-2, TIME-WAIT, closed) or its RST sent, and no
    /// datagram waits in a UDP socket (for an address resolution, room in the device). Lo's
    /// traffic does not count: both of its ends stop with the machine.
    pub fn drained(&self) -> bool {
        self.peek(|inner| inner.ifs.eth.iter().all(|eth| set_drained(&eth.set)))
    }
}

/// Whether nothing in `set` waits to be sent or acknowledged.
fn set_drained(set: &SocketSet<'_>) -> bool {
    set.iter().all(|(_, socket)| match socket {
        Socket::Tcp(s) => match s.state() {
            tcp::State::Listen | tcp::State::FinWait2 | tcp::State::TimeWait => true,
            // An aborted connection keeps its peer's address until its RST has gone.
            tcp::State::Closed => s.remote_endpoint().is_none(),
            _ => false,
        },
        Socket::Udp(s) => s.send_queue() == 0,
        #[allow(unreachable_patterns)]
        _ => true,
    })
}
