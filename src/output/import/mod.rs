//! Reading findings files of any scanner synsweep knows, told apart by
//! their content (never by their name): synsweep's own NDJSON (and its JSON
//! document), nmap XML
//! (`-oX`), masscan JSON (`-oJ`) and list (`-oL`, also synsweep's `.txt`),
//! zmap CSV (`-O csv` with `saddr` and `sport`) and naabu JSON lines.
//!
//! Each foreign record becomes a [`Finding`] holding what that tool knows
//! (address, port, protocol, time, TTL, and nmap's service, product and
//! version); `report` then annotates it with the catalog and the policy as
//! it does synsweep's own records. Only open ports become findings.
//!
//! Bad input is an input error naming the file (and the line when there is
//! one): a record that does not parse, a file of no known format, a zero-byte
//! file, or a file of records with none in it. A results file whose format
//! says "this scan found nothing" (an nmap run with no open port, a masscan
//! or zmap file with its header only) is a valid empty result. As before, a
//! cut-short last line of synsweep NDJSON (a killed scan) is a warning.

mod document;
mod masscan;
mod naabu;
mod nmap;
mod zmap;

use super::read::{Malformed, Reader, Stream};
use crate::error::{Error, Result};
use crate::finding::{Finding, PortState};
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The formats a findings file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// synsweep's NDJSON findings records.
    Ndjson,
    /// nmap `-oX` (and synsweep's own `.xml`).
    NmapXml,
    /// masscan `-oJ`: a JSON array, one record per line.
    MasscanJson,
    /// masscan `-oL` (and synsweep's own `.txt`).
    MasscanList,
    /// zmap `-O csv` with a header naming `saddr` and `sport`.
    ZmapCsv,
    /// naabu `-json`: one JSON object per line.
    Naabu,
    /// synsweep's own JSON document (`.json`).
    Document,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ndjson => "synsweep NDJSON",
            Kind::NmapXml => "nmap XML",
            Kind::MasscanJson => "masscan JSON",
            Kind::MasscanList => "masscan list",
            Kind::ZmapCsv => "zmap CSV",
            Kind::Naabu => "naabu JSON lines",
            Kind::Document => "synsweep JSON document",
        }
    }

    /// True for synsweep's own outputs, whose records carry their
    /// annotation (another tool's records get the catalog's).
    pub fn is_synsweep(self) -> bool {
        matches!(self, Kind::Ndjson | Kind::Document)
    }

    /// True when a file of this format says by its shape alone that it is
    /// a scan's result, so it may hold no record (a scan that found nothing).
    fn empty_is_a_result(self) -> bool {
        matches!(
            self,
            Kind::NmapXml | Kind::MasscanJson | Kind::MasscanList | Kind::ZmapCsv | Kind::Document
        )
    }
}

/// Bytes looked at to tell the format.
const HEAD: usize = 64 * 1024;

/// Tell a findings file's format from its first bytes; `None` when it is
/// none of those synsweep reads.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let text = head.trim_ascii_start();
    let first_line = text
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or(b"")
        .trim_ascii();
    match *text.first()? {
        b'<' => contains(&text[..text.len().min(8192)], b"<nmaprun").then_some(Kind::NmapXml),
        b'[' => Some(Kind::MasscanJson),
        b'{' if document::is_document(text) => Some(Kind::Document),
        b'{' => Some(json_lines_kind(first_line)),
        b'#' if first_line.starts_with(b"#masscan") => Some(Kind::MasscanList),
        _ if masscan::is_list_line(first_line) => Some(Kind::MasscanList),
        _ if zmap::is_header(first_line) => Some(Kind::ZmapCsv),
        _ => None,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// synsweep NDJSON or naabu JSON lines, from the first record's fields.
fn json_lines_kind(first_line: &[u8]) -> Kind {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(first_line) else {
        // Not one whole JSON object on the line: the NDJSON reader says why.
        return Kind::Ndjson;
    };
    let ours = ["proto", "state", "reason", "ts", "category", "severity"];
    let naabu = ["host", "timestamp", "protocol", "tls", "cdn"];
    if ours.iter().any(|k| o.contains_key(*k)) {
        Kind::Ndjson
    } else if naabu.iter().any(|k| o.contains_key(*k))
        || o.get("port").is_some_and(|p| p.is_object())
    {
        Kind::Naabu
    } else {
        Kind::Ndjson
    }
}

/// A finding for an open port as a foreign scanner reported it, before
/// the catalog annotates it. `unix` is the time of the reply, when known.
pub(crate) fn open_finding(
    ip: IpAddr,
    port: u16,
    proto: &str,
    reason: &str,
    ttl: u8,
    unix: Option<u64>,
) -> Finding {
    let proto = proto.to_ascii_lowercase();
    let reason = if reason.is_empty() {
        if proto == "udp" {
            "udp-response"
        } else {
            "syn-ack"
        }
    } else {
        reason
    };
    let mut f = Finding::observed(
        ip,
        port,
        &proto,
        PortState::Open,
        reason,
        ttl,
        std::time::UNIX_EPOCH,
    );
    f.ts = unix
        .map(|s| {
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
            )
            .to_string()
        })
        .unwrap_or_default();
    f
}

/// A line-oriented foreign format: fed one line at a time (without its
/// line break), it pushes the findings that line completes.
pub(crate) trait LineFormat {
    /// `Err` is the reason the line is not a record of this format.
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> std::result::Result<(), String>;
    /// The end of the file: push what is still held.
    fn end(&mut self, _out: &mut VecDeque<Finding>) {}
}

enum Source {
    Ndjson(Reader),
    Lines {
        lines: std::io::Split<std::io::BufReader<Stream>>,
        n: usize,
        format: Box<dyn LineFormat>,
        done: bool,
    },
    Queue,
}

/// The findings of one results file of any known format, one at a time.
/// After the last one, a file that held no finding although its format
/// cannot say "nothing found" yields an error.
pub struct Input {
    path: PathBuf,
    kind: Kind,
    source: Source,
    queue: VecDeque<Finding>,
    records: u64,
    finished: bool,
    warnings: Vec<String>,
}

impl Input {
    /// Open `path` and tell its format. A file that cannot be read, is
    /// empty, or is in no known format is an input error.
    pub fn open(path: &Path) -> Result<Input> {
        let cannot = |e: std::io::Error| {
            Error::input(format!("cannot read findings file {}: {e}", path.display()))
        };
        let mut file = std::fs::File::open(path).map_err(cannot)?;
        let mut head = Vec::with_capacity(4096);
        file.by_ref()
            .take(HEAD as u64)
            .read_to_end(&mut head)
            .map_err(cannot)?;
        if head.trim_ascii().is_empty() {
            return Err(Error::input(format!(
                "{}: empty file, no findings in it",
                path.display()
            )));
        }
        let kind = sniff(&head).ok_or_else(|| {
            Error::input(format!(
                "{}: not a results file synsweep reads (synsweep NDJSON, nmap XML, \
                 masscan JSON or list, zmap CSV with saddr and sport, naabu JSON lines)",
                path.display()
            ))
        })?;
        // The file is opened once: what was read to tell the format goes
        // back in front of the rest (a pipe or FIFO cannot be read twice).
        let mut stream: Stream = Box::new(std::io::Cursor::new(head).chain(file));
        let lines = |stream: Stream, format: Box<dyn LineFormat>| -> Result<Source> {
            Ok(Source::Lines {
                lines: std::io::BufReader::with_capacity(256 * 1024, stream).split(b'\n'),
                n: 0,
                format,
                done: false,
            })
        };
        let mut queue = VecDeque::new();
        let mut warnings = Vec::new();
        let source = match kind {
            Kind::Ndjson => Source::Ndjson(Reader::from_stream(path, stream, Malformed::OnlyLast)),
            Kind::NmapXml => {
                let mut bytes = Vec::new();
                stream.read_to_end(&mut bytes).map_err(cannot)?;
                let doc = nmap::parse(&bytes)
                    .map_err(|(line, e)| Error::input(format!("{}:{line}: {e}", path.display())))?;
                queue.extend(doc.findings);
                if !doc.complete {
                    warnings.push(format!(
                        "{}: the nmap XML ends before </nmaprun> (an interrupted scan?); \
                         read the hosts it holds",
                        path.display()
                    ));
                }
                Source::Queue
            }
            Kind::MasscanJson => lines(stream, Box::new(masscan::Json))?,
            Kind::MasscanList => lines(stream, Box::<masscan::List>::default())?,
            Kind::ZmapCsv => lines(stream, Box::<zmap::Csv>::default())?,
            Kind::Naabu => lines(stream, Box::new(naabu::Naabu))?,
            Kind::Document => lines(stream, Box::<document::Document>::default())?,
        };
        Ok(Input {
            path: path.to_path_buf(),
            kind,
            source,
            queue,
            records: 0,
            finished: false,
            warnings,
        })
    }

    /// The format told from the content.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Warnings so far, taken (so they can be printed as they come).
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut w = std::mem::take(&mut self.warnings);
        if let Source::Ndjson(r) = &mut self.source {
            w.extend(r.take_warnings());
        }
        w
    }

    fn next_inner(&mut self) -> Option<Result<Finding>> {
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Some(Ok(f));
            }
            match &mut self.source {
                Source::Ndjson(r) => return r.next(),
                Source::Queue => return None,
                Source::Lines {
                    lines,
                    n,
                    format,
                    done,
                } => {
                    if *done {
                        return None;
                    }
                    match lines.next() {
                        None => {
                            *done = true;
                            format.end(&mut self.queue);
                        }
                        Some(Err(e)) => {
                            *done = true;
                            return Some(Err(Error::runtime(format!(
                                "cannot read findings file {}: {e}",
                                self.path.display()
                            ))));
                        }
                        Some(Ok(bytes)) => {
                            *n += 1;
                            let bad = |why: String| {
                                Error::input(format!(
                                    "{}:{}: not a {} record ({why})",
                                    self.path.display(),
                                    n,
                                    self.kind.name()
                                ))
                            };
                            let text = match std::str::from_utf8(&bytes) {
                                Ok(t) => t.trim(),
                                Err(e) => {
                                    *done = true;
                                    return Some(Err(bad(e.to_string())));
                                }
                            };
                            let text = if *n == 1 {
                                text.trim_start_matches('\u{feff}')
                            } else {
                                text
                            };
                            if let Err(why) = format.line(text, &mut self.queue) {
                                *done = true;
                                return Some(Err(bad(why)));
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for Input {
    type Item = Result<Finding>;

    fn next(&mut self) -> Option<Result<Finding>> {
        if self.finished {
            return None;
        }
        match self.next_inner() {
            Some(Ok(f)) => {
                self.records += 1;
                Some(Ok(f))
            }
            Some(Err(e)) => {
                self.finished = true;
                Some(Err(e))
            }
            None => {
                self.finished = true;
                if self.records == 0 && !self.kind.empty_is_a_result() {
                    return Some(Err(Error::input(format!(
                        "{}: no findings record in it ({})",
                        self.path.display(),
                        self.kind.name()
                    ))));
                }
                None
            }
        }
    }
}

/// Read a whole results file of any known format into memory (small
/// files, tests), with its warnings.
pub fn read_any(path: &Path) -> Result<(Vec<Finding>, Vec<String>)> {
    let mut input = Input::open(path)?;
    let mut out = Vec::new();
    for f in input.by_ref() {
        out.push(f?);
    }
    Ok((out, input.take_warnings()))
}

/// Our protocol word for a service name another scanner reports (nmap's
/// `ms-wbt-server` is `rdp`); an unknown name is kept, lowercased.
pub(crate) fn protocol_word(name: &str, tunnel_tls: bool) -> Option<String> {
    let n = name.trim().to_ascii_lowercase();
    let n = n.strip_prefix("ssl/").map_or(n.clone(), |s| {
        if tunnel_tls { s.to_string() } else { n.clone() }
    });
    // `tcpwrapped`: the service closed without a word, nothing identified.
    if n.is_empty() || n == "unknown" || n == "tcpwrapped" || n.ends_with('?') {
        return None;
    }
    if tunnel_tls || n == "https" || n == "ssl" || n == "tls" || n == "https-alt" {
        return Some("tls".into());
    }
    Some(
        match n.as_str() {
            "http-proxy" | "http-alt" | "http-mgmt" | "www" => "http",
            "ms-wbt-server" => "rdp",
            "microsoft-ds" | "netbios-ssn" => "smb",
            "postgres" => "postgresql",
            "mongod" => "mongodb",
            "smtps" | "submission" => "smtp",
            "domain" => "dns",
            other => other,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_from_content() {
        let cases: &[(&[u8], Option<Kind>)] = &[
            (b"<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\">", Some(Kind::NmapXml)),
            (b"<?xml version=\"1.0\"?>\n<svg></svg>", None),
            (b"[\n{   \"ip\": \"198.19.0.2\",   \"timestamp\": \"1\", \"ports\": []}\n]", Some(Kind::MasscanJson)),
            (b"#masscan\nopen tcp 80 198.19.0.2 1390380064\n# end\n", Some(Kind::MasscanList)),
            (b"open tcp 80 198.19.0.2 1390380064\n", Some(Kind::MasscanList)),
            (b"saddr,sport,classification,success\n198.19.0.2,80,synack,1\n", Some(Kind::ZmapCsv)),
            (b"{\"ip\":\"198.19.0.2\",\"port\":22,\"proto\":\"tcp\",\"state\":\"open\"}\n", Some(Kind::Ndjson)),
            (b"{\"ip\":\"198.19.0.2\",\"port\":22}\n", Some(Kind::Ndjson)),
            (b"{\"ip\":\"198.19.0.2\",\"po", Some(Kind::Ndjson)),
            (b"{\"host\":\"a.example\",\"ip\":\"198.19.0.2\",\"port\":443}\n", Some(Kind::Naabu)),
            (b"\xef\xbb\xbf{\"ip\":\"198.19.0.2\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"port\":80,\"protocol\":\"tcp\",\"tls\":false}", Some(Kind::Naabu)),
            (b"hello world\n", None),
            (b"198.19.0.2\n198.19.0.3\n", None),
            (b"\x00\x01\x02", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes), *want, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn service_names_map_to_our_protocol_words() {
        assert_eq!(protocol_word("ssh", false).as_deref(), Some("ssh"));
        assert_eq!(protocol_word("http", true).as_deref(), Some("tls"));
        assert_eq!(protocol_word("ssl/http", true).as_deref(), Some("tls"));
        assert_eq!(
            protocol_word("ms-wbt-server", false).as_deref(),
            Some("rdp")
        );
        assert_eq!(protocol_word("http-proxy", false).as_deref(), Some("http"));
        assert_eq!(protocol_word("unknown", false), None);
        assert_eq!(protocol_word("ssh?", false), None);
        assert_eq!(protocol_word("Gopher", false).as_deref(), Some("gopher"));
    }

    fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn empty_unknown_and_recordless_files_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes, says) in [
            ("zero.ndjson", &b""[..], "empty file"),
            ("blank.ndjson", b"\n\n  \n", "empty file"),
            ("junk.ndjson", b"hello\nworld\n", "not a results file"),
            (
                "cut.ndjson",
                b"{\"ip\":\"198.19.0.2\",\"po",
                "no findings record",
            ),
            (
                "xml.xml",
                b"<?xml version=\"1.0\"?><svg/>",
                "not a results file",
            ),
        ] {
            let p = file(dir.path(), name, bytes);
            let err = read_any(&p).unwrap_err();
            assert!(matches!(err, Error::Input(_)), "{name}: {err}");
            let msg = err.to_string();
            assert!(msg.contains(name) && msg.contains(says), "{name}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn a_bad_record_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            dir.path(),
            "m.txt",
            b"#masscan\nopen tcp 80 198.19.0.2 1390380064\nopen tcp eighty 198.19.0.3 1\n# end\n",
        );
        let msg = read_any(&p).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("{}:3: not a masscan list record", p.display())),
            "{msg}"
        );
        // synsweep NDJSON: garbage in the middle is bad input, a cut-short
        // last line a warning.
        let p = file(
            dir.path(),
            "n.ndjson",
            b"{\"ip\":\"198.19.0.2\",\"port\":22,\"state\":\"open\"}\nnot json\n{\"ip\":\"198.19.0.3\",\"port\":22}\n",
        );
        let msg = read_any(&p).unwrap_err().to_string();
        assert!(msg.contains("n.ndjson:2:"), "{msg}");
        let p = file(
            dir.path(),
            "k.ndjson",
            b"{\"ip\":\"198.19.0.2\",\"port\":22,\"state\":\"open\"}\n{\"ip\":\"198.19.0.3\",\"po",
        );
        let (fs, w) = read_any(&p).unwrap();
        assert_eq!(fs.len(), 1);
        assert!(w.len() == 1 && w[0].contains("k.ndjson:2:"), "{w:?}");
    }
}
