//! The receiver thread, one per interface and probe module of the scan: captures frames
//! through the probe module's BPF filter, skips the link header, lets the
//! module validate and classify each packet, and forwards what is ours in
//! batches to the collector. It knows no protocol.

use crate::net::sys::{PacketSocket, RxBatch};
use crate::probe::{Classified, Identity, Probe, Reject};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// How long one read waits (the socket's receive timeout).
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// Frames one read takes at most.
const READ_BATCH: usize = 256;

/// What a receiver hands the collector.
#[derive(Debug)]
pub struct Batch {
    /// When the replies were read.
    pub at: Instant,
    /// Which receiver (its index among the scan's receivers).
    pub from: usize,
    /// Every frame this receiver captured before this time is in this
    /// batch or an earlier one, or held by identification: a read that
    /// began then emptied the socket's queue (None before the first such
    /// read).
    pub horizon: Option<Instant>,
    pub replies: Vec<Classified>,
}

/// Counters the status line shows (shared by every receiver).
#[derive(Debug, Default)]
pub struct RxStats {
    /// Frames that passed the filter and were classified as our replies.
    pub frames: AtomicU64,
    /// Frames that passed the filter but did not parse.
    pub malformed: AtomicU64,
    /// Frames that parsed but were not answers to our probes (bad cookie, ...).
    pub rejected: AtomicU64,
    /// ICMP unreachables quoting our probes that say "filtered".
    pub filtered: AtomicU64,
    /// Frames the kernel dropped because we were too slow.
    pub kernel_drops: AtomicU64,
}

/// Receive until `stop` is set, forwarding classified replies with the
/// time they were read and how far this receiver (`index`) got (a batch,
/// empty if need be, at least every [`READ_TIMEOUT`]). `l3` is the length of
/// the link header in front of the IP packet.
#[allow(clippy::too_many_arguments)]
pub fn run(
    index: usize,
    sock: PacketSocket,
    l3: usize,
    probe: &dyn Probe,
    us: &Identity,
    out: Sender<Batch>,
    stop: &AtomicBool,
    stats: &RxStats,
    mut responder: Option<super::respond::Responder<'_>>,
) -> std::io::Result<()> {
    let mut batch = RxBatch::new(READ_BATCH);
    let mut polled = std::time::Instant::now();
    let (mut horizon, mut told) = (None, Instant::now());
    while !stop.load(Ordering::Relaxed) {
        let call = Instant::now();
        let n = sock.recv_batch(&mut batch)?;
        let at = Instant::now();
        // Fewer frames than asked for: the queue is empty (MSG_WAITFORONE),
        // so every frame captured before the call is read now.
        if n < READ_BATCH {
            horizon = Some(call);
        }
        // Identification sees every packet
        // first, and forwards open ports when they are done.
        let mut v = Vec::with_capacity(n);
        if let Some(r) = responder.as_mut() {
            r.tick(at, &mut v);
        }
        // Replies count when captured (`--rate max` compares them with
        // the probes sent), not when a port's identification is done.
        let mut replies = 0u64;
        if n > 0 || !v.is_empty() {
            for i in 0..n {
                let (frame, outgoing) = batch.frame(i);
                if outgoing {
                    continue;
                }
                let c = frame.get(l3..).map(|p| (p, probe.classify(p, us)));
                let reply = matches!(c, Some((_, Ok(_))));
                if let (Some((p, c)), Some(r)) = (&c, responder.as_mut()) {
                    r.follow_up = false;
                    let taken = r.on_packet(at, p, c, us, &mut v);
                    // (Identification's own SYN-ACKs answer no probe.)
                    replies += (reply && !r.follow_up) as u64;
                    if taken {
                        continue;
                    }
                } else {
                    replies += reply as u64;
                }
                match c.map(|(_, c)| c) {
                    Some(Ok(c)) => v.push(c),
                    None | Some(Err(Reject::Malformed)) => {
                        stats.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(Reject::Filtered)) => {
                        stats.filtered.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(_)) => {
                        stats.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            stats.frames.fetch_add(replies, Ordering::Relaxed);
        }
        if !v.is_empty() || at.duration_since(told) >= READ_TIMEOUT {
            told = at;
            // The channel holds thousands of batches while the collector
            // lags: a batch keeps only what it holds, not room for every
            // frame read (identification takes most of those).
            if v.capacity() > 2 * v.len() {
                v.shrink_to_fit();
            }
            let b = Batch {
                at,
                from: index,
                horizon,
                replies: v,
            };
            if out.send(b).is_err() {
                break;
            }
        }
        // Kernel drops feed the status line and `--rate max`: read them
        // every 20 ms (the call also resets them).
        if (n == 0 || polled.elapsed() >= std::time::Duration::from_millis(20))
            && let Ok((_, drops)) = sock.stats()
        {
            polled = std::time::Instant::now();
            stats
                .kernel_drops
                .fetch_add(drops as u64, Ordering::Relaxed);
        }
    }
    if let Some(r) = responder.as_mut() {
        let mut v = Vec::new();
        r.flush(&mut v);
        if !v.is_empty() {
            let now = Instant::now();
            let _ = out.send(Batch {
                at: now,
                from: index,
                horizon: Some(now),
                replies: v,
            });
        }
    }
    if let Ok((_, drops)) = sock.stats() {
        stats
            .kernel_drops
            .fetch_add(drops as u64, Ordering::Relaxed);
    }
    Ok(())
}
