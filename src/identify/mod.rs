//! Service identification: what actually answers on an open port.
//!
//! After a SYN-ACK, the scan core completes the handshake statelessly (see
//! [`crate::wire::segment`]), then either waits for a server that speaks
//! first (SSH, FTP, SMTP, ...) or sends one [`Hello`] (an HTTP request, a TLS
//! ClientHello, ...), captures the first bytes the service sends, and asks
//! [`identify`] to name the protocol. Everything here is pure: bytes in, a
//! name out; no sockets, no clock.
//!
//! - [`identify`]: the fingerprint parsers (`fingerprint.rs`), then
//!   [`facts`]: the product, version and HTTP facts the bytes state. Strict: a
//!   wrong name is worse than none, so a parser answers only on bytes that
//!   its protocol's specification makes unmistakable, and ambiguous greetings
//!   (an FTP or SMTP `220` that names neither) fall back on the port or stay
//!   unknown. They never panic, whatever the bytes.
//! - [`hello`]: the payloads we send, written from the specifications.
//! - [`handshake`]: the sequence numbers of the follow-up segments (ACK,
//!   hello, RST) and which data segments are ours.
//! - [`plan`](mod@plan): which hello (if any) to try on a port, as a short ordered list
//!   of connection attempts.
//! - [`session`]: the sans-IO table of a scan's identifications (what to
//!   send after a SYN-ACK, which segments are whose, when a port is done).
//! - [`pseudo`]: whether a host that answers on many ports but identifies on
//!   few is a middlebox or tarpit.

pub mod facts;
mod fingerprint;
pub mod handshake;
pub mod hello;
pub mod plan;
pub mod pseudo;
pub mod session;
pub mod tls;

pub use facts::Facts;
pub use hello::Hello;
pub use plan::{Attempt, Plan, plan};

/// Every protocol name [`identify`] may return (the TCP vocabulary of the
/// findings record's `protocol` field).
pub const PROTOCOLS: [&str; 22] = [
    "ssh",
    "http",
    "tls",
    "ftp",
    "smtp",
    "pop3",
    "imap",
    "telnet",
    "redis",
    "memcached",
    "mqtt",
    "vnc",
    "rdp",
    "smb",
    "mysql",
    "postgresql",
    "mongodb",
    "ldap",
    "rtsp",
    "rsync",
    "amqp",
    "irc",
];

/// Longest banner kept in an [`Identified`] (bytes).
pub const BANNER_MAX: usize = 256;
/// Longest `detail` kept (bytes of text).
pub const DETAIL_MAX: usize = 128;

/// A service named from the first bytes it sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Identified {
    /// A name from [`PROTOCOLS`].
    pub protocol: &'static str,
    /// What else was cheap to read: the TLS version (`TLSv1.0` ...
    /// `TLSv1.3`), a product and version (`OpenSSH_9.2p1 Debian-2+deb12u3`,
    /// `nginx/1.22.1`, `5.5.5-10.11.6-MariaDB`), printable ASCII only, at most
    /// [`DETAIL_MAX`] bytes.
    pub detail: Option<String>,
    /// The service's own words, unescaped and at most [`BANNER_MAX`] bytes:
    /// the first line for text protocols (without the line end), the
    /// announced product/version for binary ones, empty when a binary
    /// protocol announces nothing. Attacker-controlled: writers must escape.
    pub banner: Vec<u8>,
    /// What the service stated about itself (product, version, HTTP
    /// facts: [`facts`]), escaped and bounded.
    pub facts: Facts,
}

/// Name the protocol of a service from the first bytes it sent (see the
/// fingerprint parsers), with the [`Facts`] those bytes state.
///
/// `sent` is the hello we sent on this connection (None if we only waited
/// for a banner); `port` is the service's port, used only to settle an FTP or
/// SMTP greeting that names neither protocol. `None`: not identified.
pub fn identify(data: &[u8], sent: Option<Hello>, port: u16) -> Option<Identified> {
    let mut id = fingerprint::identify(data, sent, port)?;
    id.facts = facts::facts(&id, data);
    Some(id)
}

/// The first line of `data` (up to `\n`, without `\r\n`), at most
/// [`BANNER_MAX`] bytes: the banner to record for a service nothing named.
pub fn raw_banner(data: &[u8]) -> Vec<u8> {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let mut line = &data[..end];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    line[..line.len().min(BANNER_MAX)].to_vec()
}
