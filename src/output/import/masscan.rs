//! masscan's outputs: `-oJ` and `-oL`.
//!
//! `-oJ` is a JSON array written one record per line, with the commas on
//! lines of their own (masscan 1.3) or after each record and a final
//! `{finished: 1}` that is not JSON (masscan 1.0):
//!
//! ```text
//! [
//! {   "ip": "198.19.0.2",   "timestamp": "1700000000", "ports": [ {"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
//! ,
//! ...
//! ]
//! ```
//!
//! so it is read line by line (a one-line array is read whole). Records
//! with a `status` other than `open` and banner records (no `status`) are
//! left out.
//!
//! `-oL` (also what synsweep writes to `.txt`) is `open tcp 80 198.19.0.2
//! 1390380064` per port, `#` comments, and `banner tcp 80 198.19.0.2
//! 1390380064 http <text>` lines: a banner line right after its port's
//! line adds the protocol it names and the banner text to that port.

use super::{LineFormat, open_finding, protocol_word};
use crate::finding::Finding;
use serde::Deserialize;
use std::collections::VecDeque;
use std::net::IpAddr;

#[derive(Deserialize)]
struct JsonRecord {
    ip: IpAddr,
    #[serde(default)]
    timestamp: Option<serde_json::Value>,
    #[serde(default)]
    ports: Vec<JsonPort>,
}

#[derive(Deserialize)]
struct JsonPort {
    port: u16,
    #[serde(default)]
    proto: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    ttl: Option<u8>,
}

/// A Unix time given as a number or a string of digits.
pub(super) fn unix(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// masscan `-oJ`, one line at a time.
pub(super) struct Json;

impl Json {
    fn record(r: JsonRecord, out: &mut VecDeque<Finding>) -> Result<(), String> {
        let ts = r.timestamp.as_ref().and_then(unix);
        for p in r.ports {
            if p.status.as_deref() != Some("open") {
                continue;
            }
            let proto = p.proto.as_deref().unwrap_or("tcp").to_ascii_lowercase();
            if proto != "tcp" && proto != "udp" {
                continue;
            }
            out.push_back(open_finding(
                r.ip,
                p.port,
                &proto,
                p.reason.as_deref().unwrap_or(""),
                p.ttl.unwrap_or(0),
                ts,
            ));
        }
        Ok(())
    }
}

impl LineFormat for Json {
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> Result<(), String> {
        let t = line.trim();
        if t.starts_with('[')
            && t.len() > 1
            && let Ok(all) = serde_json::from_str::<Vec<JsonRecord>>(t)
        {
            for r in all {
                Json::record(r, out)?;
            }
            return Ok(());
        }
        let t = t.trim_start_matches(['[', ',', ' ', '\t']);
        let t = t.trim_end_matches([']', ',', ' ', '\t']);
        if t.is_empty() || t.replace(' ', "").starts_with("{finished:") {
            return Ok(());
        }
        let r: JsonRecord = serde_json::from_str(t).map_err(|e| e.to_string())?;
        Json::record(r, out)
    }
}

/// True when `line` is a masscan list record (`open tcp 80 1.2.3.4 1390380064`).
pub(super) fn is_list_line(line: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(line) else {
        return false;
    };
    let w: Vec<&str> = s.split_whitespace().collect();
    w.len() >= 5
        && matches!(w[0], "open" | "closed")
        && matches!(w[1], "tcp" | "udp" | "sctp" | "icmp")
        && w[2].parse::<u16>().is_ok()
        && w[3].parse::<IpAddr>().is_ok()
        && w[4].parse::<u64>().is_ok()
}

/// masscan `-oL`, one line at a time; an open port is held until the next
/// line, which may be its banner.
#[derive(Default)]
pub(super) struct List {
    held: Option<Finding>,
}

impl LineFormat for List {
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> Result<(), String> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut w = line.splitn(7, ' ');
        let mut field = |what: &str| w.next().ok_or_else(|| format!("no {what}"));
        let state = field("state")?;
        let proto = field("protocol")?;
        let port: u16 = field("port")?.parse().map_err(|e| format!("port: {e}"))?;
        let ip: IpAddr = field("address")?
            .parse()
            .map_err(|e| format!("address: {e}"))?;
        let ts: u64 = field("time")?.parse().map_err(|e| format!("time: {e}"))?;
        if !matches!(proto, "tcp" | "udp" | "sctp" | "icmp") {
            return Err(format!("unknown protocol {proto:?}"));
        }
        match state {
            "open" => {
                if let Some(f) = self.held.take() {
                    out.push_back(f);
                }
                if proto == "tcp" || proto == "udp" {
                    self.held = Some(open_finding(ip, port, proto, "", 0, Some(ts)));
                }
            }
            "closed" => {}
            "banner" => {
                let service = field("service")?;
                let text = w.next().unwrap_or("");
                if let Some(f) = self
                    .held
                    .as_mut()
                    .filter(|f| f.ip == ip && f.port == port && f.proto == proto)
                {
                    let word = protocol_word(&service.replace('_', " "), false)
                        .filter(|p| p == "tls" || crate::risk::protocol::home_port(p).is_some());
                    if f.protocol.is_none() {
                        f.protocol = word;
                    }
                    if f.banner.is_none() && !text.is_empty() {
                        f.banner = Some(if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                            text.to_string()
                        } else {
                            crate::finding::escape_banner(text.as_bytes(), 256)
                        });
                    }
                }
            }
            other => return Err(format!("unknown state {other:?}")),
        }
        Ok(())
    }

    fn end(&mut self, out: &mut VecDeque<Finding>) {
        out.extend(self.held.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: &mut dyn LineFormat, text: &str) -> Result<Vec<Finding>, String> {
        let mut out = VecDeque::new();
        for l in text.lines() {
            format.line(l.trim(), &mut out)?;
        }
        format.end(&mut out);
        Ok(out.into())
    }

    #[test]
    fn json_of_masscan_1_3_and_1_0() {
        // masscan 1.3: commas on lines of their own.
        let new = "[\n{   \"ip\": \"198.19.0.2\",   \"timestamp\": \"1700000000\", \"ports\": [ {\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\", \"reason\": \"syn-ack\", \"ttl\": 64} ] }\n,\n{   \"ip\": \"198.19.0.3\",   \"timestamp\": \"1700000001\", \"ports\": [ {\"port\": 53, \"proto\": \"udp\", \"status\": \"open\", \"reason\": \"none\", \"ttl\": 63} ] }\n]\n";
        let fs = run(&mut Json, new).unwrap();
        assert_eq!(fs.len(), 2);
        assert_eq!(
            (fs[0].ip.to_string(), fs[0].port, fs[0].proto.as_str()),
            ("198.19.0.2".into(), 80, "tcp")
        );
        assert_eq!((fs[0].ttl, fs[0].reason.as_str()), (64, "syn-ack"));
        assert_eq!(fs[0].ts, "2023-11-14T22:13:20.000Z");
        assert_eq!(
            (fs[1].port, fs[1].proto.as_str(), fs[1].ttl),
            (53, "udp", 63)
        );
        // masscan 1.0: trailing commas, `{finished: 1}`, a closed port and
        // a banner record.
        let old = "[\n{ \"ip\": \"198.19.0.4\", \"timestamp\": \"1390380064\", \"ports\": [ {\"port\": 22, \"proto\": \"tcp\", \"status\": \"open\", \"reason\": \"syn-ack\", \"ttl\": 64} ] },\n{ \"ip\": \"198.19.0.4\", \"timestamp\": \"1390380064\", \"ports\": [ {\"port\": 23, \"proto\": \"tcp\", \"status\": \"closed\", \"reason\": \"rst\", \"ttl\": 64} ] },\n{ \"ip\": \"198.19.0.4\", \"timestamp\": \"1390380065\", \"ports\": [ {\"port\": 22, \"proto\": \"tcp\", \"service\": {\"name\": \"ssh\", \"banner\": \"SSH-2.0-OpenSSH_9.2\"} } ] },\n{finished: 1}\n]\n";
        let fs = run(&mut Json, old).unwrap();
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].port, 22);
        // A one-line array.
        let one = "[{\"ip\":\"198.19.0.5\",\"timestamp\":1,\"ports\":[{\"port\":443,\"proto\":\"tcp\",\"status\":\"open\"}]}]";
        assert_eq!(run(&mut Json, one).unwrap()[0].port, 443);
        assert!(
            run(
                &mut Json,
                "[\n{\"ip\": \"198.19.0.6\", \"ports\": [ {\"port\": \"x\"} ] }\n]"
            )
            .is_err()
        );
        assert!(run(&mut Json, "[\n{\"ip\": \"not-an-ip\"}\n]").is_err());
    }

    #[test]
    fn list_with_banners_and_comments() {
        let text = "#masscan\nopen tcp 2222 198.19.0.2 1390380064\nbanner tcp 2222 198.19.0.2 1390380064 ssh SSH-2.0-OpenSSH_9.2\\x0d\\x0a\nopen udp 161 198.19.0.3 1390380065\nclosed tcp 23 198.19.0.3 1390380065\nopen tcp 80 198.19.0.3 1390380066\nbanner tcp 80 198.19.0.3 1390380066 title It works\n# end\n";
        let fs = run(&mut List::default(), text).unwrap();
        assert_eq!(fs.len(), 3);
        assert_eq!(fs[0].port, 2222);
        assert_eq!(fs[0].protocol.as_deref(), Some("ssh"));
        assert_eq!(
            fs[0].banner.as_deref(),
            Some("SSH-2.0-OpenSSH_9.2\\x0d\\x0a")
        );
        assert_eq!(
            (fs[1].port, fs[1].proto.as_str(), fs[1].reason.as_str()),
            (161, "udp", "udp-response")
        );
        assert_eq!(fs[2].protocol, None, "a title is not a protocol");
        assert_eq!(fs[2].banner.as_deref(), Some("It works"));
        assert!(run(&mut List::default(), "open tcp 99999 198.19.0.2 1\n").is_err());
        assert!(run(&mut List::default(), "open tcp 80 198.19.0.2\n").is_err());
        assert!(run(&mut List::default(), "half open tcp 80 198.19.0.2 1\n").is_err());
    }

    #[test]
    fn our_own_list_writer_reads_back() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000);
        let mut f = Finding::tcp(
            "198.19.0.9".parse().unwrap(),
            22,
            crate::finding::PortState::Open,
            64,
            t,
        );
        f.protocol = Some("ssh".into());
        f.banner = Some("SSH-2.0-OpenSSH_9.2p1 Debian-2\\x0d\\x0a".into());
        let text = format!("#masscan\n{}# end\n", crate::output::list::line(&f));
        let fs = run(&mut List::default(), &text).unwrap();
        assert_eq!(fs.len(), 1);
        assert_eq!((fs[0].ip, fs[0].port), (f.ip, 22));
        assert_eq!(fs[0].protocol, f.protocol);
        assert_eq!(fs[0].banner, f.banner);
        assert_eq!(fs[0].unix_seconds(), 1_790_000_000);
    }
}
