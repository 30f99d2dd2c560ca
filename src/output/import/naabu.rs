//! naabu's JSON lines (`-json`): one object per open port,
//!
//! ```text
//! {"host":"a.example","ip":"198.19.0.2","timestamp":"2024-05-01T10:00:00.123456789Z","port":443,"protocol":"tcp","tls":true}
//! ```
//!
//! (`host` left out when it is the address; older versions write only
//! `host`, `ip` and `port`). `port` may also be an object
//! (`{"Port":443,"Protocol":0,"TLS":true}`, protocol 0 TCP and 1 UDP), as
//! some versions wrote it. naabu names no service; `tls: true` says the
//! port spoke TLS, so the protocol is `tls`.

use super::{LineFormat, open_finding};
use crate::finding::Finding;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::IpAddr;

pub(super) struct Naabu;

fn field<'a>(o: &'a serde_json::Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| o.get(*n))
        .filter(|v| !v.is_null())
}

impl LineFormat for Naabu {
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> Result<(), String> {
        if line.is_empty() {
            return Ok(());
        }
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let o = v.as_object().ok_or("not a JSON object")?;
        let ip: IpAddr = field(o, &["ip"])
            .and_then(Value::as_str)
            .ok_or("no ip")?
            .parse()
            .map_err(|e| format!("ip: {e}"))?;
        let port_v = field(o, &["port"]).ok_or("no port")?;
        let (port, inner) = match port_v {
            Value::Object(p) => (field(p, &["Port", "port"]).and_then(Value::as_u64), Some(p)),
            other => (other.as_u64(), None),
        };
        let port = port
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("port is not a port number")?;
        let proto_v = inner
            .and_then(|p| field(p, &["Protocol", "protocol"]))
            .or_else(|| field(o, &["protocol"]));
        let proto = match proto_v {
            None => "tcp",
            Some(Value::Number(n)) if n.as_u64() == Some(1) => "udp",
            Some(Value::Number(_)) => "tcp",
            Some(Value::String(s)) if s.eq_ignore_ascii_case("udp") => "udp",
            Some(Value::String(s)) if s.eq_ignore_ascii_case("tcp") => "tcp",
            Some(other) => return Err(format!("unknown protocol {other}")),
        };
        let tls = inner
            .and_then(|p| field(p, &["TLS", "tls"]))
            .or_else(|| field(o, &["tls"]))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let ts = field(o, &["timestamp"])
            .and_then(Value::as_str)
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let mut f = open_finding(ip, port, proto, "", 0, ts.map(|d| d.as_secs()));
        if let Some(d) = ts {
            f.ts = humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + d).to_string();
        }
        if tls {
            f.protocol = Some("tls".into());
        }
        out.push_back(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Vec<Finding>, String> {
        let mut out = VecDeque::new();
        for l in text.lines() {
            Naabu.line(l.trim(), &mut out)?;
        }
        Ok(out.into())
    }

    #[test]
    fn current_old_and_object_port_records() {
        let text = concat!(
            "{\"host\":\"a.example\",\"ip\":\"198.19.0.2\",\"timestamp\":\"2024-05-01T10:00:00.123456789Z\",\"port\":443,\"protocol\":\"tcp\",\"tls\":true}\n",
            "{\"ip\":\"198.19.0.3\",\"timestamp\":\"2024-05-01T10:00:01Z\",\"port\":53,\"protocol\":\"udp\",\"tls\":false}\n",
            "{\"host\":\"b.example\",\"ip\":\"198.19.0.4\",\"port\":22}\n",
            "{\"ip\":\"198.19.0.5\",\"port\":{\"Port\":8443,\"Protocol\":0,\"TLS\":true}}\n",
        );
        let fs = run(text).unwrap();
        assert_eq!(fs.len(), 4);
        assert_eq!(
            (fs[0].port, fs[0].proto.as_str(), fs[0].protocol.as_deref()),
            (443, "tcp", Some("tls"))
        );
        assert_eq!(fs[0].ts, "2024-05-01T10:00:00.123Z");
        assert_eq!(
            (fs[1].port, fs[1].proto.as_str(), fs[1].protocol.as_deref()),
            (53, "udp", None)
        );
        assert_eq!((fs[2].port, fs[2].ts.as_str()), (22, ""));
        assert_eq!((fs[3].port, fs[3].protocol.as_deref()), (8443, Some("tls")));
    }

    #[test]
    fn bad_records_are_errors() {
        for bad in [
            "{\"ip\":\"198.19.0.2\"}",
            "{\"ip\":\"198.19.0.2\",\"port\":70000}",
            "{\"host\":\"a.example\",\"port\":80}",
            "{\"ip\":\"198.19.0.2\",\"port\":80,\"protocol\":\"sctp\"}",
            "[1,2]",
            "{\"ip\":",
        ] {
            assert!(run(bad).is_err(), "{bad}");
        }
    }
}
