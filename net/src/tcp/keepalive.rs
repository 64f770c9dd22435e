//! SO_KEEPALIVE as Linux times it: the first probe after TCP_KEEPIDLE without hearing from
//! the peer (counted from when keepalive was turned on, if later), then one every
//! TCP_KEEPINTVL; TCP_KEEPCNT unanswered probes reset the connection with ETIMEDOUT.
//!
//! smoltcp probes every interval of idleness from the moment keep-alive is set, so the stack
//! arms it only once the connection has been idle for TCP_KEEPIDLE: probes every
//! TCP_KEEPINTVL, and smoltcp's timeout (counted from the last segment received) gives up
//! TCP_KEEPCNT intervals after the idle time. smoltcp does not say when a segment came, so
//! "hearing from the peer" is what shows: data arriving, data acknowledged, a state change.
//! A probe's answer does not show: once armed, smoltcp goes on probing every TCP_KEEPINTVL
//! (Linux waits TCP_KEEPIDLE again after an answer) until the peer is heard from; it still
//! gives up only when the peer stops answering, at Linux's time.

use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};

use super::{Phase, TcpOpts, TcpState};

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n.max(1)))
}

/// One connection's keepalive timing.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeepAlive {
    /// When the peer was last heard from.
    heard: Instant,
    /// When the idle time started: `heard`, or the moment keepalive was turned on if later.
    since: Instant,
    /// (bytes queued to read, bytes not yet acknowledged, state) when last looked at.
    seen: (usize, usize, State),
    /// smoltcp probes and times out.
    armed: bool,
}

impl KeepAlive {
    pub(super) fn new(now: Instant) -> Self {
        KeepAlive {
            heard: now,
            since: now,
            seen: (0, 0, State::Established),
            armed: false,
        }
    }

    /// Keepalive was turned on: the idle time counts from now (tcp_set_keepalive).
    pub(super) fn enabled(&mut self, now: Instant) {
        self.since = now;
    }

    /// When the connection gives up if the peer stays silent.
    fn gives_up_at(&self, o: &TcpOpts) -> Instant {
        self.since + secs(o.keepidle) + secs(o.keepintvl) * o.keepcnt.max(1)
    }

    /// Whether a connection smoltcp closed on its own timed out (rather than being reset).
    pub(super) fn timed_out(&self, o: &TcpOpts, now: Instant) -> bool {
        self.armed && now >= self.gives_up_at(o)
    }

    /// Looks at the established connection `s` after the stack ran: notes whether the peer
    /// was heard from, and arms or disarms smoltcp's probes.
    pub(super) fn update(&mut self, s: &mut tcp::Socket<'_>, o: &TcpOpts, now: Instant) {
        let seen = (s.recv_queue(), s.send_queue(), s.state());
        let heard = seen.0 > self.seen.0 || seen.1 < self.seen.1 || seen.2 != self.seen.2;
        self.seen = seen;
        if heard {
            self.heard = now;
            self.since = self.since.max(now);
        }
        let want = o.keepalive
            && (if self.armed {
                !heard
            } else {
                self.due(o) <= now
            });
        if want == self.armed {
            return;
        }
        self.armed = want;
        if want {
            s.set_keep_alive(Some(secs(o.keepintvl)));
            // smoltcp counts from the last segment received, no later than `heard`.
            s.set_timeout(Some(self.gives_up_at(o) - self.heard));
        } else {
            s.set_keep_alive(None);
            s.set_timeout(None);
        }
    }

    fn due(&self, o: &TcpOpts) -> Instant {
        self.since + secs(o.keepidle)
    }

    /// When the stack must look at the connection again to arm the probes.
    pub(super) fn deadline(&self, o: &TcpOpts) -> Option<Instant> {
        (o.keepalive && !self.armed).then(|| self.due(o))
    }
}

impl TcpState {
    /// When the stack must run for this socket's keepalive.
    pub(crate) fn keepalive_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Conn {
                established: true, ..
            } if !self.broken => self.ka.deadline(&self.opts),
            _ => None,
        }
    }
}
