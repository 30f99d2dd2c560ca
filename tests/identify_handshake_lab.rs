//! The stateless handshake follow-up end to end, by hand, against a real
//! HTTP server (`python3 -m http.server`) in a namespace of the test's own:
//! a SYN from a raw socket, the ACK and the hello built by
//! `identify::handshake` and `wire::segment`, the reply read back from a raw
//! socket and named by `identify`, and a RST to close.
//!
//! With the RST guard the service answers; without it the scanner's own
//! kernel resets the connection it does not know, and nothing comes back.

mod common;

use common::Lab;
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use synsweep::identify::{Hello, handshake, identify};
use synsweep::net::rstguard::{MARK, RstGuard};
use synsweep::wire::segment::{self, Incoming, Outgoing};
use synsweep::wire::tcp;

const SERVER_PORT: u16 = 8000;
const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn check(rc: i32, what: &str) {
    assert!(rc >= 0, "{what}: {}", std::io::Error::last_os_error());
}

/// A raw socket: `IPPROTO_RAW` to send (marked, so the guard lets our own
/// RSTs pass), or `IPPROTO_TCP` to receive every TCP packet of the namespace.
fn raw_socket(proto: i32) -> OwnedFd {
    // SAFETY: plain syscalls; the fd is owned right away.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, proto);
        check(fd, "socket");
        let fd = OwnedFd::from_raw_fd(fd);
        let mark = MARK as i32;
        check(
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MARK,
                (&mark as *const i32).cast(),
                4,
            ),
            "SO_MARK",
        );
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        check(
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            ),
            "SO_RCVTIMEO",
        );
        fd
    }
}

fn send(fd: &OwnedFd, seg: &Outgoing) {
    let mut buf = [0u8; 1500];
    let n = segment::write(&mut buf, None, seg).unwrap();
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: match seg.dst {
                IpAddr::V4(a) => u32::from(a).to_be(),
                IpAddr::V6(a) => panic!("an IPv4 test, not {a}"),
            },
        },
        sin_zero: [0; 8],
    };
    // SAFETY: valid buffer and address.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            n,
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    check(rc as i32, "sendto");
}

/// The next segment from the server's port to `sport` matching `want`, as
/// owned bytes, within `ms` milliseconds.
fn recv_from_server(
    fd: &OwnedFd,
    sport: u16,
    ms: u64,
    want: impl Fn(&Incoming) -> bool,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        // SAFETY: valid buffer.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            continue;
        }
        if let Ok(s) = segment::parse_ipv4(&buf[..n as usize])
            && s.sport == SERVER_PORT
            && s.dport == sport
            && want(&s)
        {
            return Some(buf[..n as usize].to_vec());
        }
    }
    None
}

/// Complete a handshake from raw sockets, send the HTTP hello, and return
/// what the server sent back (empty if nothing).
fn stateless_http_exchange(sport: u16, isn: u32) -> Vec<u8> {
    let tx = raw_socket(libc::IPPROTO_RAW);
    let rx = raw_socket(libc::IPPROTO_TCP);
    send(
        &tx,
        &Outgoing {
            src: IpAddr::V4(LO),
            dst: IpAddr::V4(LO),
            sport,
            dport: SERVER_PORT,
            seq: isn,
            ack: 0,
            flags: tcp::SYN,
            window: 64240,
            ident: 0,
            ttl: 64,
            payload: &[],
        },
    );
    let sa = recv_from_server(&rx, sport, 2000, |s| {
        s.flags & (tcp::SYN | tcp::ACK) == tcp::SYN | tcp::ACK
    })
    .expect("no SYN-ACK");
    let sa = segment::parse_ipv4(&sa).unwrap();
    assert!(handshake::ack_is_ours(sa.ack, isn, 0));
    send(&tx, &handshake::complete(&sa));
    let payload = Hello::Http.payload(IpAddr::V4(LO), [0; 32]);
    send(&tx, &handshake::hello(&sa, &payload));
    let Some(data) = recv_from_server(&rx, sport, 2000, |s| {
        !s.payload.is_empty() && handshake::ack_is_ours(s.ack, isn, payload.len())
    }) else {
        return Vec::new();
    };
    let d = segment::parse_ipv4(&data).unwrap();
    send(&tx, &handshake::close(&d));
    d.payload.to_vec()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_http_server(lab: &Lab) -> Server {
    let dir = std::env::temp_dir();
    let mut cmd = lab.scanner_command("python3");
    cmd.args([
        "-m",
        "http.server",
        &SERVER_PORT.to_string(),
        "--bind",
        "127.0.0.1",
    ])
    .current_dir(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let server = Server(cmd.spawn().expect("python3 -m http.server"));
    let up = lab.in_scanner(|| {
        (0..100).any(|_| {
            let ok = TcpStream::connect((LO, SERVER_PORT)).is_ok();
            if !ok {
                std::thread::sleep(Duration::from_millis(100));
            }
            ok
        })
    });
    assert!(up, "http.server never listened");
    server
}

#[test]
fn handshake_from_raw_sockets_identifies_a_real_http_server() {
    let lab = Lab::loopback_only(&[]);
    let _server = start_http_server(&lab);
    let reply = lab.in_scanner(|| {
        let guard = RstGuard::install(61000..=61015).expect("RST guard");
        let reply = stateless_http_exchange(61003, 0x1357_9bdf);
        // The kernel tried to reset the connection it did not know.
        assert!(guard.dropped().unwrap() >= 1);
        reply
    });
    let id = identify(&reply, Some(Hello::Http), SERVER_PORT)
        .unwrap_or_else(|| panic!("not identified: {:?}", String::from_utf8_lossy(&reply)));
    assert_eq!(id.protocol, "http");
    let detail = id.detail.unwrap_or_default();
    assert!(detail.starts_with("SimpleHTTP/"), "{detail}");
}

#[test]
fn without_the_guard_the_kernel_kills_the_handshake() {
    let lab = Lab::loopback_only(&[]);
    let _server = start_http_server(&lab);
    let reply = lab.in_scanner(|| stateless_http_exchange(61004, 0x2468_ace0));
    assert!(
        reply.is_empty(),
        "data came back: {:?}",
        String::from_utf8_lossy(&reply)
    );
}
