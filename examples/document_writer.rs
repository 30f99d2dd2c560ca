//! Feeds synthetic findings to a document writer the way a scan does (one
//! `write` per finding, in scan order, then `finish`), so the memory of the
//! scan-side document path can be measured at scale:
//!
//! ```sh
//! cargo build --release --example document_writer
//! /usr/bin/time -v target/release/examples/document_writer 1310720 out.html
//! ```
//!
//! Findings: the hosts of 198.19.0.0/16 in turn, ports 1-20 each, annotated
//! by the risk catalog (as scripts/bench_results.sh generates them).

use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Finding, PortState};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::Risk;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(n), Some(out)) = (args.get(1).and_then(|n| n.parse::<u64>().ok()), args.get(2))
    else {
        eprintln!("usage: document_writer N OUT.{{html,json,xml}}");
        std::process::exit(2);
    };
    let risk = Risk::new(None);
    let base = u32::from(std::net::Ipv4Addr::new(198, 19, 0, 0));
    let mut w = output::open(out, Format::from_path(out), false).unwrap_or_else(|e| {
        eprintln!("document_writer: {e}");
        std::process::exit(2);
    });
    let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(base + (i / 20) as u32 % 65536);
        let t = t0 + Duration::from_micros(i * 200);
        let mut f = Finding::tcp(ip.into(), (i % 20) as u16 + 1, PortState::Open, 64, t);
        risk.annotate(&mut f);
        w.write(&f).expect("write");
    }
    let meta = ScanMeta {
        command: format!("document_writer {n} {out}"),
        started: t0,
        finished: t0 + Duration::from_micros(n * 200),
        targets: "198.19.0.0/16".into(),
        ports: "1-20".into(),
        seed: 0,
        rate: "n/a".into(),
        probes_sent: n,
    };
    w.finish(&meta).expect("finish");
}
