//! synsweep's own JSON document (`.json`), read back for its findings. The
//! writer puts each finding on a line of its own inside `"findings": [`
//! (see [`crate::output::json_doc`]), so the document is read line by line:
//! lines before that array and after its closing `]` are skipped.

use super::LineFormat;
use crate::finding::Finding;
use std::collections::VecDeque;

#[derive(Default)]
pub(super) struct Document {
    /// 0 before the findings, 1 inside them, 2 after.
    part: u8,
}

impl LineFormat for Document {
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> Result<(), String> {
        match self.part {
            0 => {
                if let Some(rest) = line.strip_prefix("\"findings\":") {
                    let rest = rest.trim();
                    self.part = if rest == "[" {
                        1
                    } else if rest.replace(' ', "").starts_with("[]") {
                        2
                    } else {
                        return Err("findings are not one per line".into());
                    };
                }
                Ok(())
            }
            1 => {
                let t = line.trim_end_matches(',');
                if t.starts_with(']') {
                    self.part = 2;
                    return Ok(());
                }
                let f = crate::output::read::parse_line(t.as_bytes()).map_err(|e| e.to_string())?;
                out.push_back(f);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn end(&mut self, _out: &mut VecDeque<Finding>) {}
}

/// True when a file starting `{` is a synsweep JSON document.
pub(super) fn is_document(head: &[u8]) -> bool {
    let t = head.trim_ascii_start();
    t.starts_with(b"{") && t[1..].trim_ascii_start().starts_with(b"\"synsweep\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::PortState;

    fn meta() -> crate::output::ScanMeta {
        crate::output::ScanMeta {
            command: "synsweep scan".into(),
            started: std::time::UNIX_EPOCH,
            finished: std::time::UNIX_EPOCH,
            targets: String::new(),
            ports: String::new(),
            seed: 0,
            rate: String::new(),
            probes_sent: 0,
        }
    }

    #[test]
    fn our_own_document_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000);
        let mut a = Finding::tcp("198.19.0.9".parse().unwrap(), 22, PortState::Open, 64, t);
        a.protocol = Some("ssh".into());
        let b = Finding::tcp("2001:2::1".parse().unwrap(), 80, PortState::Open, 63, t);
        for (name, fs) in [
            ("two.json", vec![a.clone(), b.clone()]),
            ("none.json", vec![]),
        ] {
            let path = dir.path().join(name);
            let mut w =
                crate::output::open(path.to_str().unwrap(), crate::output::Format::Json, false)
                    .unwrap();
            for f in &fs {
                w.write(f).unwrap();
            }
            w.finish(&meta()).unwrap();
            let head = std::fs::read(&path).unwrap();
            assert_eq!(
                super::super::sniff(&head),
                Some(super::super::Kind::Document)
            );
            let (back, warnings) = super::super::read_any(&path).unwrap();
            assert!(warnings.is_empty());
            let keys: Vec<_> = back
                .iter()
                .map(|f| (f.ip, f.port, f.protocol.clone()))
                .collect();
            let want: Vec<_> = fs
                .iter()
                .map(|f| (f.ip, f.port, f.protocol.clone()))
                .collect();
            assert_eq!(keys, want, "{name}");
        }
    }
}
