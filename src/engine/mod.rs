//! The sans-IO engine: everything that decides what to probe and what a
//! reply means, with no sockets, no clock and no threads of its own (the
//! shape of quinn-proto). Time and packets are passed in; decisions come out.
//!
//! - [`space`]: the (address x port) index space and its lookups;
//! - [`permutation`]: the seeded order over it, shards and sender slices;
//! - [`cookie`]: the keyed hash that validates replies statelessly;
//! - [`correlator`]: classified replies in, deduplicated port states out;
//! - [`answered`]: the compact set of pairs and hosts that answered;
//! - [`retry`]: which silent pairs a retry round probes again;
//! - [`core`]: the scan's state machine (rounds, late wait, pause, checkpoints);
//! - [`positions`]: which sender positions a checkpoint saves;
//! - [`ratelimit`], [`adaptive`]: the send schedule and the `--rate max` controller;
//! - [`feedback`]: the controller's input from the scan's counters, each
//!   sender's caps and the retry round's lossy stretches;
//! - [`validate`]: our side of every probe, and a classified reply (what
//!   probe modules hand the engine).

pub mod adaptive;
pub mod answered;
pub mod cookie;
pub mod core;
pub mod correlator;
pub mod feedback;
pub mod permutation;
pub mod positions;
pub mod ratelimit;
pub mod retry;
pub mod space;
pub mod validate;
