//! masscan's list format (`-oL`), which many scripts parse:
//!
//! ```text
//! #masscan
//! open tcp 80 198.19.0.4 1390380064
//! # end
//! ```
//!
//! Fields: state, protocol, port, address, Unix time of the reply. A
//! finding with a banner adds masscan's banner line after its own:
//! `banner tcp 22 198.19.0.4 1390380064 ssh SSH-2.0-OpenSSH_9.2` (no
//! control characters). The header
//! is written when the file is started, each line as its finding arrives,
//! the trailer at `finish`. Resuming removes the trailer and appends.

use super::{FindingWriter, Out, ScanMeta};
use crate::finding::{Finding, PortState, terminal_safe};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const TRAILER: &[u8] = b"# end\n";

pub struct List {
    out: Out,
}

impl List {
    /// `fresh`: the file is new or empty, so it gets the `#masscan` header.
    pub fn new(mut out: Out, fresh: bool) -> std::io::Result<Self> {
        if fresh {
            out.write_all(b"#masscan\n")?;
            out.flush()?;
        }
        Ok(List { out })
    }
}

/// One record in list format, with its newline.
pub fn line(f: &Finding) -> String {
    let state = match f.state {
        PortState::Open => "open",
        PortState::Closed => "closed",
    };
    let proto = if f.proto == "udp" { "udp" } else { "tcp" };
    let mut line = format!("{state} {proto} {} {} {}\n", f.port, f.ip, f.unix_seconds());
    if let Some(b) = &f.banner {
        // masscan's banner line; no control characters (no line breaks).
        let service = f.protocol.as_deref().unwrap_or(&f.service);
        line.push_str(&format!(
            "banner {proto} {} {} {} {} {}\n",
            f.port,
            f.ip,
            f.unix_seconds(),
            terminal_safe(&service.replace(' ', "_")),
            terminal_safe(b)
        ));
    }
    line
}

/// Cut a trailing `# end` line off an existing list file, so a resumed scan
/// can append to it.
pub(crate) fn strip_trailer(path: &Path) -> std::io::Result<()> {
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    if len < TRAILER.len() as u64 {
        return Ok(());
    }
    f.seek(SeekFrom::Start(len - TRAILER.len() as u64))?;
    let mut tail = [0u8; TRAILER.len()];
    f.read_exact(&mut tail)?;
    if tail == TRAILER {
        f.set_len(len - TRAILER.len() as u64)?;
    }
    Ok(())
}

impl FindingWriter for List {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.out.write_all(line(f).as_bytes())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self, _meta: &ScanMeta) -> std::io::Result<()> {
        self.out.write_all(TRAILER)?;
        self.out.flush()
    }
    fn streams(&self) -> bool {
        true
    }
}
