//! What the senders share: the plan that turns a position of the
//! permutation into a probe (space, identity, paths and the modules'
//! templates per path and source), and the live counters each sender
//! keeps for the status line and the rate controller. The sender loop
//! (`send`), its IPv6 half (`send6`) and the ways out (`tx`) all read
//! these; none of them is read by this module.

use crate::engine::permutation::Permutation;
use crate::engine::space::Space;
use crate::net::route::Routes;
use crate::probe::{Identity, Template};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Everything a sender needs to turn a position into a probe.
#[derive(Debug)]
pub struct Plan {
    pub perm: Permutation,
    pub space: Space,
    pub id: Identity,
    pub routes: Arc<Routes>,
    /// Per path, per source address of the path, per module of the scan:
    /// the module's template.
    pub templates: Vec<Vec<Vec<Box<dyn Template>>>>,
    /// Per port entry of the space: which module probes it, and how many
    /// probes (payloads) each pair of it gets per round.
    pub port_module: Vec<(u8, u32)>,
    /// The IPv6 paths (their sockets follow the IPv4 paths' in a sender's
    /// socket list), and per path, per source, per module the module's
    /// IPv6 template (`None`: the module has none).
    pub routes6: Arc<Routes<u128>>,
    pub templates6: Templates6,
}

/// Per IPv6 path, per source, per module: the module's IPv6 template.
pub type Templates6 = Vec<Vec<Vec<Option<Box<dyn Template>>>>>;

impl Plan {
    /// Which of a path's `n` sources probes `ip` (always the same one).
    #[inline]
    pub fn source_for(ip: u32, n: usize) -> usize {
        if n == 1 {
            0
        } else {
            (((ip as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % n as u64) as usize
        }
    }
}

/// Live counters shared with the status line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Probes handed to the kernel.
    pub sent: AtomicU64,
    /// Positions of the current round walked (sent or skipped).
    pub walked: AtomicU64,
    /// Positions skipped because their host has no route or is down.
    pub unreachable: AtomicU64,
    /// A rate set from outside while the sender runs (the adaptive
    /// controller of `--rate max`): probes per second for this sender,
    /// `send::CAP_UNLIMITED`, or `send::CAP_NONE` to keep the limiter's own rate.
    pub cap: AtomicU64,
    /// In a retry round of `--rate max`: a second cap, on probes to hosts
    /// that answered before (most of them may be answered now), paced one
    /// by one; `send::CAP_NONE` or `send::CAP_UNLIMITED` for none.
    pub live_cap: AtomicU64,
    /// Probes handed to the kernel that went to hosts that answered before
    /// (retry rounds only).
    pub live_sent: AtomicU64,
}
