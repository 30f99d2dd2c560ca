//! The collector thread: classified replies in, findings out. The
//! correlator drops duplicates and pairs outside the scan; each new port
//! state becomes a finding, goes through the risk categorizer and is
//! written by every writer, then forgotten (documents keep what they need
//! themselves). A batch's records reach the files together, at its end.

use crate::engine::correlator::Correlator;
use crate::finding::{Finding, PortState};
use crate::output::FindingWriter;
use crate::risk::Risk;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

/// What the status line shows of the collector's work.
#[derive(Debug, Default)]
pub struct Counters {
    pub open: AtomicU64,
    pub closed: AtomicU64,
    /// New port states (open or closed).
    pub valid: AtomicU64,
}

/// The correlator and how far the collector got, under one lock: while a
/// checkpoint holds it, the answered set, the output files and `until` agree.
#[derive(Debug)]
pub struct Collected {
    pub corr: Correlator,
    /// Every reply the kernel captured before this time has been
    /// correlated and written, or is an open port identification holds
    /// (see [`super::respond::Shared::held_ports`]).
    pub until: Instant,
}

/// Correlate, annotate and write until the channel closes. `receivers`:
/// how many receivers feed the channel (each reports how far it got).
#[allow(clippy::too_many_arguments)]
pub fn run(
    rx: Receiver<super::recv::Batch>,
    receivers: usize,
    state: &Mutex<Collected>,
    risk: &Risk,
    writers: &mut [Box<dyn FindingWriter>],
    show_closed: bool,
    counters: &Counters,
    ident: Option<&super::respond::Shared>,
) -> std::io::Result<()> {
    let mut err = None;
    // How far each receiver got: every frame it captured before this time
    // has been handled once its batch is (or is held by identification).
    let mut horizons: Vec<Option<Instant>> = vec![None; receivers];
    loop {
        let b = match rx.recv_timeout(super::recv::READ_TIMEOUT) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut st = state.lock().unwrap();
        if let Some(h) = horizons.get_mut(b.from) {
            *h = (*h).max(b.horizon);
        }
        if let Some(Some(t)) = horizons.iter().min() {
            st.until = st.until.max(*t);
        }
        let c = &mut st.corr;
        for r in &b.replies {
            // What identification found.
            let outcome = ident
                .filter(|_| r.proto == crate::probe::Proto::Tcp && r.state == PortState::Open)
                .and_then(|s| s.take(r.target, r.port));
            if c.handle(r).is_err() {
                continue;
            }
            counters.valid.fetch_add(1, Ordering::Relaxed);
            match r.state {
                PortState::Open => counters.open.fetch_add(1, Ordering::Relaxed),
                PortState::Closed => counters.closed.fetch_add(1, Ordering::Relaxed),
            };
            if r.state == PortState::Closed && !show_closed {
                continue;
            }
            let mut f = Finding::observed(
                r.target,
                r.port,
                r.proto.name(),
                r.state,
                r.reason,
                r.ttl,
                SystemTime::now(),
            );
            f.protocol = r.protocol.map(str::to_string);
            f.amplification = r.amplification;
            let legacy = outcome.and_then(|o| super::respond::apply(&mut f, o));
            risk.annotate(&mut f);
            // TLS 1.0/1.1: a finding of its own, after the port's.
            let legacy = legacy.map(|v| crate::risk::protocol::legacy_tls_finding(&f, &v));
            // Each problem of its certificate too.
            let cert = crate::risk::protocol::cert_findings(&f, SystemTime::now());
            for f in std::iter::once(&f).chain(legacy.as_ref()).chain(&cert) {
                for w in writers.iter_mut() {
                    if let Err(e) = w.write(f) {
                        err.get_or_insert(e);
                    }
                }
            }
        }
        // The batch's records reach the files before a checkpoint can
        // count it (it takes `state`, held until here).
        for w in writers.iter_mut() {
            if let Err(e) = w.flush() {
                err.get_or_insert(e);
            }
        }
    }
    err.map_or(Ok(()), Err)
}
