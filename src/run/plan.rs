//! What the senders share: the plan that turns a position of the
//! permutation into a probe (space, identity, paths and the modules'
//! templates per path and source), and the live counters each sender
//! keeps for the status line and the rate controller. The sender loop
//! (`send`) and the ways out (`tx`) read these; neither is read by this
//! module.

use crate::engine::permutation::Permutation;
use crate::engine::space::Space;
use crate::net::route::{RouteAddr, Routes};
use crate::probe::{Identity, Template};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// Everything a sender needs to turn a position into a probe.
#[derive(Debug)]
pub struct Plan {
    pub perm: Permutation,
    pub space: Space,
    pub id: Identity,
    /// Per port entry of the space: which module probes it, and how many
    /// probes (payloads) each pair of it gets per round.
    pub port_module: Vec<(u8, u32)>,
    /// The IPv4 paths and their templates.
    pub v4: Ways<u32>,
    /// The IPv6 paths and their templates (their ways out follow the IPv4
    /// paths' in a sender's [`TxSet`](super::tx::TxSet)).
    pub v6: Ways<u128>,
}

/// One family's paths, and their modules' templates.
#[derive(Debug)]
pub struct Ways<A: RouteAddr> {
    pub routes: Arc<Routes<A>>,
    pub templates: Templates,
}

/// Per path, per source address of the path, per module of the scan: the
/// module's template.
pub type Templates = Vec<Vec<Vec<Box<dyn Template>>>>;

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
    /// The round being sent (0: the first pass).
    pub round: AtomicU32,
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
