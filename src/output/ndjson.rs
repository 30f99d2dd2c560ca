//! NDJSON: one findings record (DESIGN.md) per line. Each line is built
//! whole, handed over in one `write_all` and flushed at once, so a crash
//! leaves at most one cut-short last line, which the reader skips.
//!
//! Records may go to a terminal (`-o -`): besides the control characters
//! JSON always escapes, DEL and the C1 controls (U+0080-U+009F, where a
//! terminal reads CSI) are written as `\u00NN` too.

use super::{FindingWriter, Out, ScanMeta};
use crate::finding::Finding;
use serde::Serialize;
use std::io::Write;

/// serde_json's compact output, with DEL and C1 controls escaped as well.
struct SafeFormatter;

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{7f}'..='\u{9f}').contains(&c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// Compact JSON of `v` with every control character escaped.
pub fn to_vec_safe<T: Serialize + ?Sized>(v: &T) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter);
    v.serialize(&mut ser).map_err(std::io::Error::other)?;
    Ok(out)
}

/// One record as an NDJSON line, with its newline.
pub fn line(f: &Finding) -> std::io::Result<Vec<u8>> {
    let mut line = to_vec_safe(f)?;
    line.push(b'\n');
    Ok(line)
}

pub struct Ndjson {
    out: Out,
}

impl Ndjson {
    pub fn new(out: Out) -> Self {
        Ndjson { out }
    }
}

impl FindingWriter for Ndjson {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.out.write_all(&line(f)?)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self, _meta: &ScanMeta) -> std::io::Result<()> {
        self.out.flush()
    }
    fn streams(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped() {
        let s = "a\u{1b}[2J\u{7f}\u{9b}31m\u{e9}";
        let v = String::from_utf8(to_vec_safe(s).unwrap()).unwrap();
        assert_eq!(v, "\"a\\u001b[2J\\u007f\\u009b31m\u{e9}\"");
        assert!(!v.chars().any(char::is_control));
        let back: String = serde_json::from_str(&v).unwrap();
        assert_eq!(back, s);
    }
}
