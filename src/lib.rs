//! synsweep: a stateless raw-packet port scanner for Linux that turns what
//! it finds into a risk picture.
//!
//! The crate is a library with a thin binary (`src/main.rs`). One module per
//! concern; see `../shared/DESIGN.md` for the shape:
//!
//! ```text
//! config (targets, ports) --> net::route (paths, ARP sweep)
//!        |                          |
//!        v                          v
//! engine (space, permutation) --> run::send --> probe module template --> net::sys
//! run::recv --> probe module classify --> engine (correlator, core: rounds, wait, pause)
//!          --> risk --> output (writers)
//! ```
//!
//! - [`engine`]: sans-IO logic (no sockets, no clock);
//! - [`probe`]: probe modules (what a probe is and what answers it);
//! - [`wire`]: packet views and builders;
//! - [`net`]: every syscall and all unsafe code;
//! - [`run`]: the thin drivers (threads, status line);
//! - [`identify`]: service fingerprints and hellos (pure parsers);
//! - [`risk`], [`output`], [`finding`]: the findings and where they go.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod finding;
pub mod identify;
pub mod net;
pub mod output;
pub mod ports;
pub mod probe;
pub mod resume;
pub mod risk;
pub mod run;
pub mod statedir;
pub mod targets;
pub mod wire;
