//! synsweep: a stateless raw-packet TCP SYN scanner for Linux that turns what
//! it finds into a risk picture.
//!
//! The crate is a library with a thin binary (`src/main.rs`). One module per
//! concern; see `../shared/DESIGN.md` for the shape:
//!
//! ```text
//! targets + ports --> permutation --> sender --> sys (raw socket)
//! findings <-- risk <-- correlator <-- receiver
//!  output
//! ```

pub mod adaptive;
pub mod cli;
pub mod config;
pub mod cookie;
pub mod correlator;
pub mod error;
pub mod finding;
pub mod output;
pub mod permutation;
pub mod ports;
pub mod privilege;
pub mod probe;
pub mod ratelimit;
pub mod receiver;
pub mod resume;
pub mod risk;
pub mod route;
pub mod scan;
pub mod sender;
pub mod sys;
pub mod targets;
pub mod wire;
