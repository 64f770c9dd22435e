//! Sending the segments one socket call queued without walking every socket of the
//! interface for each of them.
//!
//! smoltcp's `Interface::poll_egress` walks the interface's whole socket set and lets each
//! socket emit at most one segment per walk, so a reply of N segments on one of M
//! connections costs N + 1 walks over all M sockets (nginx under wrk -c50: 5 walks of 51
//! sockets for a 4 KiB page). smoltcp offers no call that dispatches one socket, so the
//! socket is moved for the walks into a set of its own and back. Only that socket has
//! anything new to send after its call: the others' due segments (timers) are the driver's
//! poll's to send, as they were when the call ran the whole egress.

use alloc::vec::Vec;

use smoltcp::iface::{PollResult, SocketHandle, SocketSet};
use smoltcp::socket::tcp;

use crate::stack::{Inner, Kind, Sock, Which};

impl Inner {
    /// After a socket call that queued data on connection `id` of NIC `w`: maintenance and
    /// ingress of `w`, then, when no packet came in, the connection's own segments. Whether
    /// packets came in (the caller then runs the whole stack, which sends everything).
    pub(crate) fn run_for(&mut self, w: Which, id: u64) -> bool {
        let now = self.ifs.now;
        if self.run_ingress(w, now) {
            return true;
        }
        let handle = match self.socks.get(&id) {
            Some(Sock {
                kind: Kind::Tcp(t), ..
            }) => t.conn_handle(),
            _ => None,
        };
        match handle {
            Some((on, h)) if on == w => self.egress_one(w, h),
            // Not a connection of `w` (it changed under the call): the whole egress of `w`.
            _ => {
                self.run_iface(w, now);
            }
        }
        false
    }

    /// Sends what connection `h` of NIC `w` has for the wire, as many segments as it may.
    fn egress_one(&mut self, w: Which, h: SocketHandle) {
        let Which::Eth(i) = w else { return };
        let Some(eth) = self.ifs.eth.get_mut(usize::from(i)) else {
            return;
        };
        let now = self.ifs.now;
        let mut one = SocketSet::new(Vec::with_capacity(1));
        let empty = || tcp::SocketBuffer::new(Vec::new());
        let slot = one.add(tcp::Socket::new(empty(), empty()));
        core::mem::swap(
            eth.set.get_mut::<tcp::Socket<'static>>(h),
            one.get_mut::<tcp::Socket<'static>>(slot),
        );
        while eth.iface.poll_egress(now, &mut eth.dev, &mut one) != PollResult::None {}
        core::mem::swap(
            eth.set.get_mut::<tcp::Socket<'static>>(h),
            one.get_mut::<tcp::Socket<'static>>(slot),
        );
    }
}
