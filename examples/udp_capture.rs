//! Capture real replies to synsweep's UDP payloads, for test vectors.
//!
//! ```text
//! cargo run --example udp_capture -- NAME ADDR:PORT COOKIE OUTDIR
//! ```
//!
//! Sends the payload NAME (a `UdpService::name`, e.g. `dns-version-bind`)
//! built with COOKIE (hex) from an ordinary UDP socket to ADDR:PORT, waits
//! two seconds, and writes each reply datagram to OUTDIR/NAME-N.bin. Only
//! loopback (127.0.0.0/8) and the lab's benchmarking range (198.18.0.0/15)
//! are accepted as destinations. Used by `scripts/udp_vectors.sh`.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use synsweep::probe::udp_payloads::ALL;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: udp_capture NAME ADDR:PORT COOKIE OUTDIR");
        std::process::exit(2);
    }
    let Some(svc) = ALL.iter().find(|s| s.name == args[1]) else {
        eprintln!("udp_capture: no payload named {}", args[1]);
        std::process::exit(2);
    };
    let Ok(dst) = args[2].parse::<SocketAddr>() else {
        eprintln!("udp_capture: bad address {}", args[2]);
        std::process::exit(2);
    };
    let lab = match dst.ip() {
        IpAddr::V4(a) => a.is_loopback() || (a.octets()[0] == 198 && a.octets()[1] & 0xfe == 18),
        IpAddr::V6(a) => a.is_loopback(),
    };
    if !lab {
        eprintln!("udp_capture: {dst} is neither loopback nor 198.18.0.0/15");
        std::process::exit(2);
    }
    let Ok(cookie) = u32::from_str_radix(&args[3], 16) else {
        eprintln!("udp_capture: bad cookie {}", args[3]);
        std::process::exit(2);
    };
    let bind: SocketAddr = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .unwrap();
    let fail = |what: &str, e: std::io::Error| -> ! {
        eprintln!("udp_capture: {what}: {e}");
        std::process::exit(1)
    };
    let sock = UdpSocket::bind(bind).unwrap_or_else(|e| fail("bind", e));
    let payload = svc.payload(cookie);
    sock.send_to(&payload, dst)
        .unwrap_or_else(|e| fail("send", e));
    let end = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 65536];
    let mut n = 0;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left))
            .unwrap_or_else(|e| fail("timeout", e));
        match sock.recv_from(&mut buf) {
            Ok((len, from)) => {
                let path = format!("{}/{}-{n}.bin", args[4], svc.name);
                std::fs::write(&path, &buf[..len]).unwrap_or_else(|e| fail(&path, e));
                println!(
                    "{}: {len} bytes from {from} -> {path} ({:?})",
                    svc.name,
                    (svc.check)(&buf[..len], cookie)
                );
                n += 1;
            }
            Err(_) => break,
        }
    }
    println!("{}: probe {} bytes, {n} replies", svc.name, payload.len());
}
