//! Capture the first bytes a real service sends, for the identification
//! test vectors (`tests/identify_vectors/`): connect to 127.0.0.1:PORT, wait
//! up to BANNER_MS for a banner, send HELLO (a [`synsweep::identify::Hello`]
//! name, or `none`) if nothing came, read what arrives within 2 s (at most
//! 1024 bytes) and write it to OUT. Prints what `identify` names.
//!
//! ```text
//! cargo run --example identify_capture -- PORT HELLO BANNER_MS OUT
//! ```
//!
//! Used by `scripts/identify_vectors.sh`, which starts the Debian daemons in a
//! network namespace of its own; never point it at another host.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use synsweep::identify::{Hello, hello::ALL, identify};

const CAP: usize = 1024;

fn read_for(s: &mut TcpStream, out: &mut Vec<u8>, ms: u64) {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut buf = [0u8; 4096];
    while out.len() < CAP {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out.truncate(CAP);
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 4 {
        eprintln!("usage: identify_capture PORT HELLO|none BANNER_MS OUT");
        std::process::exit(2);
    }
    let port: u16 = a[0].parse().expect("port");
    let hello: Option<Hello> = match a[1].as_str() {
        "none" => None,
        h => Some(
            *ALL.iter()
                .find(|x| format!("{x:?}").eq_ignore_ascii_case(h))
                .expect("hello name"),
        ),
    };
    let banner_ms: u64 = a[2].parse().expect("banner ms");
    let ip = Ipv4Addr::LOCALHOST;
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::new(IpAddr::V4(ip), port),
        Duration::from_secs(3),
    )
    .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    let mut got = Vec::new();
    let mut sent = None;
    if banner_ms > 0 {
        read_for(&mut s, &mut got, banner_ms);
    }
    if got.is_empty()
        && let Some(h) = hello
    {
        s.write_all(&h.payload(IpAddr::V4(ip), [0x42; 32])).unwrap();
        sent = Some(h);
        read_for(&mut s, &mut got, 2000);
    } else if !got.is_empty() {
        // A little more of a multi-segment greeting.
        read_for(&mut s, &mut got, 300);
    }
    std::fs::write(&a[3], &got).unwrap();
    let id = identify(&got, sent, port);
    println!(
        "{} bytes, sent {sent:?} -> {:?}",
        got.len(),
        id.map(|i| (i.protocol, i.detail))
    );
}
