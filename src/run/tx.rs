//! Where a sender's probes go: per path, either a batch handed to an
//! AF_PACKET (or raw IP) socket with `sendmmsg`, or the UMEM of an AF_XDP
//! socket bound to the sender's own queue, where the probe is written in
//! place. [`open`] picks the backend per sender and interface (`--tx-backend`)
//! and says in one line where AF_XDP cannot be used; [`TxSet`] gives the
//! sender one way to fill and flush either.

use super::plan::Progress;
use crate::config::{Rate, ScanConfig, TxBackend};
use crate::error::{Error, Result};
use crate::net::route::{Iface, Link, Routes};
use crate::net::sys::{TxBatch, TxSocket};
use crate::net::xdp::{self, XdpTx};
use std::io;
use std::sync::atomic::Ordering;

/// Probes queued per path before they are handed to the kernel.
pub const BATCH: usize = 64;

/// One way out of the sender.
enum Out {
    Batch(TxSocket, TxBatch),
    Xdp(XdpTx),
}

/// A sender's ways out, one per path (paths on the same interface share one
/// AF_XDP socket: a queue takes one).
pub struct TxSet {
    outs: Vec<Out>,
    /// Per path (IPv4 paths, then IPv6 paths): its index in `outs`.
    of_path: Vec<usize>,
}

impl TxSet {
    /// Whether path `p` has as many probes queued as go out at once.
    #[inline]
    pub fn is_full(&self, p: usize) -> bool {
        match &self.outs[self.of_path[p]] {
            Out::Batch(_, b) => b.is_full(),
            Out::Xdp(x) => x.pending() >= BATCH,
        }
    }

    /// Room for the next probe on path `p`; write it, then `commit`.
    #[inline]
    pub fn slot(&mut self, p: usize) -> io::Result<&mut [u8]> {
        match &mut self.outs[self.of_path[p]] {
            Out::Batch(_, b) => Ok(&mut b.slot()[..]),
            Out::Xdp(x) => x.slot(),
        }
    }

    /// Queue the probe written into path `p`'s slot: `len` bytes, to IPv4
    /// address `dst` (used by raw IP sockets only).
    #[inline]
    pub fn commit(&mut self, p: usize, len: usize, dst: u32) {
        match &mut self.outs[self.of_path[p]] {
            Out::Batch(_, b) => b.commit(len, dst),
            Out::Xdp(x) => x.commit(len),
        }
    }

    /// Hand path `p`'s queued probes to the kernel.
    pub fn flush(&mut self, p: usize, progress: &Progress) -> io::Result<()> {
        flush_out(&mut self.outs[self.of_path[p]], progress)
    }

    /// Hand every path's queued probes to the kernel.
    pub fn flush_all(&mut self, progress: &Progress) -> io::Result<()> {
        self.outs
            .iter_mut()
            .try_for_each(|o| flush_out(o, progress))
    }

    /// How many paths' probes go through AF_XDP.
    pub fn xdp_outs(&self) -> usize {
        self.outs
            .iter()
            .filter(|o| matches!(o, Out::Xdp(_)))
            .count()
    }
}

fn flush_out(out: &mut Out, progress: &Progress) -> io::Result<()> {
    match out {
        Out::Batch(sock, batch) => {
            if batch.is_empty() {
                return Ok(());
            }
            let n = sock.send_batch(batch)?;
            progress.sent.fetch_add(n as u64, Ordering::Relaxed);
            if n < batch.len() {
                return Err(io::Error::other(format!(
                    "kernel took {n} of {} probes",
                    batch.len()
                )));
            }
            batch.clear();
            Ok(())
        }
        Out::Xdp(x) => {
            if x.pending() == 0 {
                return Ok(());
            }
            let n = x.flush()?;
            progress.sent.fetch_add(n as u64, Ordering::Relaxed);
            Ok(())
        }
    }
}

/// A path's interface, whichever family.
fn ifaces<'a>(routes: &'a Routes, routes6: &'a Routes<u128>) -> Vec<&'a Iface> {
    routes
        .paths
        .iter()
        .map(|p| &p.iface)
        .chain(routes6.paths.iter().map(|p| &p.iface))
        .collect()
}

/// The sender count: `--senders`, or the default of the rate, except that
/// with AF_XDP possible and a fast rate there are as many as the Ethernet
/// interfaces have TX queues (one AF_XDP socket per queue) and the machine
/// has cores: never fewer than the default with `--tx-backend auto` (the
/// senders past the queues use AF_PACKET), never more than the queues with
/// `--tx-backend xdp`.
pub fn senders(cfg: &ScanConfig, routes: &Routes, routes6: &Routes<u128>) -> usize {
    let fast = match cfg.rate {
        Rate::Max | Rate::Unlimited => true,
        Rate::Pps(r) => r >= crate::config::FAST_RATE,
    };
    let Some(queues) = ifaces(routes, routes6)
        .iter()
        .filter(|i| matches!(i.link, Link::Ethernet { .. }))
        .map(|i| xdp::tx_queues(&i.name))
        .min()
    else {
        return cfg.senders;
    };
    if cfg.args.senders.is_some() {
        return cfg.senders;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_queue = queues.min(cores).min(64);
    match (cfg.tx_backend, fast) {
        (TxBackend::Packet, _) => cfg.senders,
        (TxBackend::Auto, true) => per_queue.max(cfg.senders),
        (TxBackend::Auto, false) => cfg.senders,
        (TxBackend::Xdp, true) => per_queue,
        (TxBackend::Xdp, false) => cfg.senders.min(queues),
    }
}

/// Open the ways out of `senders` senders, and the lines that say where
/// AF_XDP is not used (and why). With `--tx-backend xdp`, a path where it
/// cannot be used is an error, except the loopback path to our own
/// addresses in a scan that has links besides (raw IP, said in one line).
pub fn open(
    cfg: &ScanConfig,
    routes: &Routes,
    routes6: &Routes<u128>,
    senders: usize,
) -> Result<(Vec<TxSet>, Vec<String>)> {
    let mut notes: Vec<String> = Vec::new();
    let mut note = |s: String| {
        if !notes.contains(&s) {
            notes.push(s);
        }
    };
    let forced = cfg.tx_backend == TxBackend::Xdp;
    let links = ifaces(routes, routes6)
        .iter()
        .any(|i| i.link != Link::Loopback);
    let mut sets = Vec::with_capacity(senders);
    for t in 0..senders {
        let packet = packet_sockets(routes, routes6)?;
        let mut set = TxSet {
            outs: Vec::new(),
            of_path: Vec::new(),
        };
        // Interface index -> its AF_XDP out in this sender.
        let mut xdp_of: Vec<(u32, usize)> = Vec::new();
        for (sock, iface) in packet.into_iter().zip(ifaces(routes, routes6)) {
            let batch = || Out::Batch(sock, TxBatch::new(BATCH));
            if cfg.tx_backend == TxBackend::Packet {
                set.of_path.push(set.outs.len());
                set.outs.push(batch());
                continue;
            }
            if let Some(&(_, k)) = xdp_of.iter().find(|(i, _)| *i == iface.index) {
                set.of_path.push(k);
                continue;
            }
            let why = match iface.link {
                Link::Ethernet { .. } => {
                    let queues = xdp::tx_queues(&iface.name);
                    if t >= queues {
                        Err((
                            format!(
                                "{} has {queues} TX queue{} for {senders} senders (one AF_XDP socket per queue)",
                                iface.name,
                                if queues == 1 { "" } else { "s" }
                            ),
                            format!("senders past {queues} send through AF_PACKET"),
                        ))
                    } else {
                        XdpTx::open(iface.index, t as u32).map_err(|e| {
                            (
                                format!(
                                    "AF_XDP cannot bind on {}: {}",
                                    iface.name,
                                    xdp::describe(&e)
                                ),
                                "sending through AF_PACKET".to_string(),
                            )
                        })
                    }
                }
                Link::Layer3 => Err((
                    format!(
                        "{} is a layer-3 link (no Ethernet frames), where AF_XDP cannot send",
                        iface.name
                    ),
                    "sending through AF_PACKET".to_string(),
                )),
                Link::Loopback => Err((
                    format!("{} is loopback, where AF_XDP cannot send", iface.name),
                    "sending through a raw IP socket".to_string(),
                )),
            };
            match why {
                Ok(x) => {
                    xdp_of.push((iface.index, set.outs.len()));
                    set.of_path.push(set.outs.len());
                    set.outs.push(Out::Xdp(x));
                }
                // Our own addresses in a scan that has links besides:
                // loopback, as AF_XDP on the links is what was asked for.
                Err((why, _)) if forced && !(iface.link == Link::Loopback && links) => {
                    return Err(Error::runtime(format!("--tx-backend xdp: {why}")));
                }
                Err((why, how)) => {
                    note(format!("synsweep: {why}; {how}"));
                    set.of_path.push(set.outs.len());
                    set.outs.push(batch());
                }
            }
        }
        sets.push(set);
    }
    Ok((sets, notes))
}

/// One AF_PACKET (or raw IP) socket per path, IPv4 paths then IPv6 paths.
fn packet_sockets(routes: &Routes, routes6: &Routes<u128>) -> Result<Vec<TxSocket>> {
    let mut v = super::family::tx_sockets(routes)?;
    v.extend(super::family::tx_sockets(routes6)?);
    Ok(v)
}
