//! nmap's XML output (`-oX`), and synsweep's own `.xml`, which follows
//! nmap's DTD.
//!
//! Each `<host>` with an IPv4 or IPv6 `<address>` gives one finding per
//! `<port>` whose `<state state="open">` (closed, filtered and
//! `open|filtered` ports are left out), with the port's `reason` and
//! `reason_ttl` and the host's `starttime` (else the run's `start`).
//!
//! `<service>`: nmap `-sV` names a service it identified from what the
//! service sent (`method="probed"`): that name is the finding's `protocol`
//! (in synsweep's words: `ms-wbt-server` is `rdp`, anything over TLS is
//! `tls`), with its `product` and `version`. A `method="table"` name is
//! only nmap's port-table guess and is left out: the catalog names the
//! port's service, as it does for synsweep's own records. A `banner`
//! `<script>` (nmap's banner script, synsweep's own XML) gives the banner.
//!
//! The document is read whole (nmap's XML is a few hundred bytes per open
//! port).

use super::{open_finding, protocol_word};
use crate::finding::Finding;
use quick_xml::events::{BytesStart, Event};
use std::net::IpAddr;

/// What an nmap XML document holds.
pub(super) struct Doc {
    pub findings: Vec<Finding>,
    /// `</nmaprun>` was seen (else the scan was cut short).
    pub complete: bool,
}

#[derive(Default)]
struct Port {
    proto: String,
    port: u16,
    open: bool,
    reason: String,
    ttl: u8,
    protocol: Option<String>,
    product: Option<String>,
    version: Option<String>,
    banner: Option<String>,
}

fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|err| format!("attribute {name}: {err}")),
        Ok(None) => Ok(None),
        Err(err) => Err(format!("attribute {name}: {err}")),
    }
}

/// Text another tool sent, as a banner: kept when printable ASCII, else
/// escaped like synsweep's own banners.
fn banner_text(s: &str) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) && s.len() <= 256 {
        s.to_string()
    } else {
        crate::finding::escape_banner(s.as_bytes(), 256)
    }
}

/// Parse a whole document. An error is (line, what is wrong).
pub(super) fn parse(bytes: &[u8]) -> Result<Doc, (usize, String)> {
    let mut r = quick_xml::Reader::from_reader(bytes);
    let line_at = |pos: u64| {
        let pos = (pos as usize).min(bytes.len());
        bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1
    };
    let mut findings = Vec::new();
    let mut root = false;
    let mut complete = false;
    let mut run_start: Option<u64> = None;
    // The host being read: its address, start time and open ports.
    let mut host: Option<(Option<IpAddr>, Option<u64>, Vec<Port>)> = None;
    let mut port: Option<Port> = None;
    loop {
        let at = r.buffer_position();
        let ev = match r.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                if root && r.buffer_position() as usize >= bytes.len() {
                    // Cut short inside a tag: an interrupted scan.
                    break;
                }
                return Err((line_at(r.error_position()), e.to_string()));
            }
        };
        let bad = |what: String| (line_at(at), what);
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let self_closed = matches!(ev, Event::Empty(_));
                match e.name().as_ref() {
                    b"nmaprun" => {
                        root = true;
                        run_start = attr(e, "start").map_err(bad)?.and_then(|s| s.parse().ok());
                    }
                    _ if !root => {
                        return Err(bad(format!(
                            "not an nmap XML document (<{}> before <nmaprun>)",
                            String::from_utf8_lossy(e.name().as_ref())
                        )));
                    }
                    b"host" => {
                        let start = attr(e, "starttime")
                            .map_err(bad)?
                            .and_then(|s| s.parse().ok());
                        host = Some((None, start, Vec::new()));
                    }
                    b"address" => {
                        if let Some(h) = host.as_mut() {
                            let kind = attr(e, "addrtype").map_err(bad)?.unwrap_or_default();
                            if kind == "ipv4" || kind == "ipv6" {
                                let a = attr(e, "addr").map_err(bad)?.unwrap_or_default();
                                h.0 = Some(
                                    a.parse()
                                        .map_err(|err| bad(format!("address {a:?}: {err}")))?,
                                );
                            }
                        }
                    }
                    b"port" if host.is_some() => {
                        let portid = attr(e, "portid").map_err(bad)?.unwrap_or_default();
                        let p = Port {
                            proto: attr(e, "protocol").map_err(bad)?.unwrap_or_default(),
                            port: portid
                                .parse()
                                .map_err(|err| bad(format!("portid {portid:?}: {err}")))?,
                            ..Port::default()
                        };
                        port = Some(p);
                    }
                    b"state" => {
                        if let Some(p) = port.as_mut() {
                            p.open = attr(e, "state").map_err(bad)?.as_deref() == Some("open");
                            p.reason = attr(e, "reason").map_err(bad)?.unwrap_or_default();
                            p.ttl = attr(e, "reason_ttl")
                                .map_err(bad)?
                                .and_then(|t| t.parse().ok())
                                .unwrap_or(0);
                        }
                    }
                    b"service" => {
                        if let Some(p) = port.as_mut() {
                            let method = attr(e, "method").map_err(bad)?.unwrap_or_default();
                            if method == "probed" {
                                let tunnel = attr(e, "tunnel").map_err(bad)?;
                                let name = attr(e, "name").map_err(bad)?.unwrap_or_default();
                                p.protocol = protocol_word(&name, tunnel.as_deref() == Some("ssl"));
                                p.product =
                                    attr(e, "product").map_err(bad)?.map(|s| banner_text(&s));
                                p.version =
                                    attr(e, "version").map_err(bad)?.map(|s| banner_text(&s));
                            }
                        }
                    }
                    b"script" => {
                        if let Some(p) = port.as_mut()
                            && attr(e, "id").map_err(bad)?.as_deref() == Some("banner")
                        {
                            p.banner = attr(e, "output").map_err(bad)?.map(|s| banner_text(&s));
                        }
                    }
                    _ => {}
                }
                if self_closed && e.name().as_ref() == b"port" {
                    // A self-closed <port/> (no state: not open) ends here.
                    if let (Some(p), Some(h)) = (port.take(), host.as_mut()) {
                        h.2.push(p);
                    }
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"port" => {
                    if let (Some(p), Some(h)) = (port.take(), host.as_mut()) {
                        h.2.push(p);
                    }
                }
                b"host" => {
                    if let Some((Some(ip), start, ports)) = host.take() {
                        for p in ports.into_iter().filter(|p| p.open) {
                            let proto = p.proto.to_ascii_lowercase();
                            if proto != "tcp" && proto != "udp" {
                                continue;
                            }
                            let mut f = open_finding(
                                ip,
                                p.port,
                                &proto,
                                &p.reason,
                                p.ttl,
                                start.or(run_start),
                            );
                            f.protocol = p.protocol;
                            f.product = p.product;
                            f.version = p.version;
                            f.banner = p.banner;
                            findings.push(f);
                        }
                    }
                    host = None;
                }
                b"nmaprun" => complete = true,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !root {
        return Err((1, "not an nmap XML document (no <nmaprun>)".into()));
    }
    Ok(Doc { findings, complete })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCAN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<nmaprun scanner="nmap" args="nmap -sS -sV -oX - 198.19.0.2-3" start="1700000000" startstr="Tue Nov 14 22:13:20 2023" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="4" services="22,80,443,3389"/>
<verbose level="0"/>
<debugging level="0"/>
<hosthint><status state="up" reason="unknown-response" reason_ttl="0"/>
<address addr="198.19.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
</hosthint>
<host starttime="1700000005" endtime="1700000010"><status state="up" reason="echo-reply" reason_ttl="64"/>
<address addr="198.19.0.2" addrtype="ipv4"/>
<address addr="02:00:00:00:00:02" addrtype="mac"/>
<hostnames>
</hostnames>
<ports><extraports state="closed" count="1">
<extrareasons reason="resets" count="1" proto="tcp" ports="3389"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u3" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe></service></port>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" method="table" conf="3"/></port>
<port protocol="tcp" portid="443"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="https" method="table" conf="3"/></port>
<port protocol="tcp" portid="8443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx" tunnel="ssl" method="probed" conf="10"/></port>
</ports>
<times srtt="50" rttvar="50" to="100000"/>
</host>
<host starttime="1700000006" endtime="1700000010"><status state="up" reason="echo-reply" reason_ttl="64"/>
<address addr="2001:2::3" addrtype="ipv6"/>
<ports><port protocol="udp" portid="161"><state state="open" reason="udp-response" reason_ttl="63"/><service name="snmp" method="probed" conf="10"/><script id="banner" output="hello&#xa;there"/></port>
<port protocol="tcp" portid="23"><state state="closed" reason="reset" reason_ttl="64"/></port>
</ports>
</host>
<runstats><finished time="1700000010" timestr="Tue Nov 14 22:13:30 2023" summary="Nmap done" elapsed="10.00" exit="success"/><hosts up="2" down="0" total="2"/>
</runstats>
</nmaprun>
"#;

    #[test]
    fn open_ports_with_probed_services() {
        let d = parse(SCAN.as_bytes()).unwrap();
        assert!(d.complete);
        let got: Vec<(String, u16, &str)> = d
            .findings
            .iter()
            .map(|f| (f.ip.to_string(), f.port, f.proto.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("198.19.0.2".into(), 22, "tcp"),
                ("198.19.0.2".into(), 80, "tcp"),
                ("198.19.0.2".into(), 8443, "tcp"),
                ("2001:2::3".into(), 161, "udp"),
            ]
        );
        let ssh = &d.findings[0];
        assert_eq!(ssh.protocol.as_deref(), Some("ssh"));
        assert_eq!(ssh.product.as_deref(), Some("OpenSSH"));
        assert_eq!(ssh.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
        assert_eq!((ssh.reason.as_str(), ssh.ttl), ("syn-ack", 64));
        assert_eq!(ssh.unix_seconds(), 1_700_000_005);
        // A port-table name is a guess, not an identification.
        assert_eq!(d.findings[1].protocol, None);
        assert_eq!(d.findings[1].product, None);
        assert_eq!(d.findings[2].protocol.as_deref(), Some("tls"));
        assert_eq!(d.findings[2].product.as_deref(), Some("nginx"));
        assert_eq!(d.findings[3].banner.as_deref(), Some("hello\\x0athere"));
        assert_eq!(d.findings[3].reason, "udp-response");
    }

    #[test]
    fn a_scan_that_found_nothing_is_a_valid_empty_result() {
        let empty = "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"nmap\" start=\"1\">\n<host><status state=\"up\"/><address addr=\"198.19.0.9\" addrtype=\"ipv4\"/><ports><extraports state=\"closed\" count=\"1000\"/></ports></host>\n<runstats/></nmaprun>\n";
        let d = parse(empty.as_bytes()).unwrap();
        assert!(d.complete && d.findings.is_empty());
    }

    #[test]
    fn cut_short_and_broken_documents() {
        // Interrupted after the first host: its ports are kept.
        let cut = &SCAN[..SCAN.find("<host starttime=\"1700000006\"").unwrap() + 20];
        let d = parse(cut.as_bytes()).unwrap();
        assert!(!d.complete);
        assert_eq!(d.findings.len(), 3);
        // A broken element names its line.
        let bad = SCAN.replace("portid=\"80\"", "portid=\"eighty\"");
        let (line, why) = parse(bad.as_bytes()).err().unwrap();
        assert_eq!(line, 22, "{why}");
        assert!(why.contains("eighty"), "{why}");
        let bad = SCAN.replace(
            "</port>\n<port protocol=\"tcp\" portid=\"443\">",
            "</prt>\n<port protocol=\"tcp\" portid=\"443\">",
        );
        assert!(parse(bad.as_bytes()).is_err());
        assert!(parse(b"<?xml version=\"1.0\"?><svg/>").is_err());
    }

    #[test]
    fn our_own_xml_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000);
        let mut a = Finding::tcp(
            "198.19.0.9".parse().unwrap(),
            2222,
            crate::finding::PortState::Open,
            64,
            t,
        );
        a.protocol = Some("ssh".into());
        a.banner = Some("SSH-2.0-OpenSSH_9.2".into());
        let b = Finding::tcp(
            "198.19.0.10".parse().unwrap(),
            80,
            crate::finding::PortState::Open,
            63,
            t,
        );
        let path = dir.path().join("o.xml");
        let path_s = path.to_str().unwrap().to_string();
        let mut w = crate::output::open(&path_s, crate::output::Format::Xml, false).unwrap();
        w.write(&a).unwrap();
        w.write(&b).unwrap();
        w.finish(&crate::output::ScanMeta {
            command: "synsweep scan".into(),
            started: t,
            finished: t,
            targets: String::new(),
            ports: String::new(),
            seed: 0,
            rate: String::new(),
            probes_sent: 0,
        })
        .unwrap();
        let d = parse(&std::fs::read(&path).unwrap()).unwrap();
        assert!(d.complete);
        assert_eq!(d.findings.len(), 2);
        assert_eq!((d.findings[0].ip, d.findings[0].port), (a.ip, 2222));
        assert_eq!(d.findings[0].protocol.as_deref(), Some("ssh"));
        assert_eq!(d.findings[0].banner, a.banner);
        assert_eq!(d.findings[0].ttl, 64);
        assert_eq!(
            (
                d.findings[1].ip,
                d.findings[1].port,
                d.findings[1].protocol.as_deref()
            ),
            (b.ip, 80, None)
        );
    }
}
