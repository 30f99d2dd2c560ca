//! The numbers of the stateless handshake follow-up, pure.
//!
//! Our SYN carried the cookie as its sequence number (ISN). Everything after
//! follows from the segments the service sends back, so nothing is kept per
//! connection:
//!
//! ```text
//!  us                                 service
//!  SYN        seq=isn           -->
//!             <--  SYN-ACK  seq=s, ack=isn+1
//!  ACK        seq=isn+1, ack=s+1 -->            complete()   (then wait for a banner)
//!  PSH+ACK    seq=isn+1, ack=s+1, hello -->     hello()      (if it stayed silent)
//!             <--  data     seq=s+1.., ack=isn+1 or isn+1+len(hello)
//!  RST        seq=<its ack>      -->            close()
//! ```
//!
//! A data segment is ours when its acknowledgement number is the cookie plus
//! one, or plus one and the hello's length ([`ack_is_ours`]); the hello is a
//! pure function of the port and target, so its length needs no state
//! either.

use crate::wire::segment::{Incoming, Outgoing};
use crate::wire::tcp;

/// Window we advertise on follow-ups: what the server may send before our
/// next acknowledgement. Small enough that whatever it sends at once (one
/// segment, or segments a NIC or veth merged) fits a capture slot whole
/// ([`crate::net::sys::RX_SLOT`] less headers), so that a TLS flight
/// followed segment by segment loses nothing. The SYNs of identification's
/// own connections carry it too, which tells them from probes on the wire
/// (the labs count the two apart).
pub const WINDOW: u16 = 1800;
const _: () = assert!(WINDOW != crate::probe::tcp_syn::WINDOW);
/// TTL of follow-ups.
pub const TTL: u8 = 64;

fn base(reply: &Incoming<'_>) -> Outgoing<'static> {
    Outgoing {
        src: reply.dst,
        dst: reply.src,
        sport: reply.dport,
        dport: reply.sport,
        seq: reply.ack,
        ack: reply.seq_end(),
        flags: tcp::ACK,
        window: WINDOW,
        ident: 0,
        ttl: TTL,
        payload: &[],
    }
}

/// The ACK that completes the handshake answering `syn_ack`.
pub fn complete(syn_ack: &Incoming<'_>) -> Outgoing<'static> {
    base(syn_ack)
}

/// The hello, sent after `complete` (same numbers: the ACK carried no data).
pub fn hello<'a>(syn_ack: &Incoming<'_>, payload: &'a [u8]) -> Outgoing<'a> {
    Outgoing {
        flags: tcp::PSH | tcp::ACK,
        payload,
        ..base(syn_ack)
    }
}

/// The RST closing the connection after `last`, the latest segment the
/// service sent: its acknowledgement number is exactly the sequence number
/// the service expects from us, so the RST is accepted (RFC 9293 3.10.7.4).
pub fn close(last: &Incoming<'_>) -> Outgoing<'static> {
    Outgoing {
        flags: tcp::RST,
        ack: 0,
        ..base(last)
    }
}

/// Whether a segment acknowledging `ack` belongs to a connection whose SYN
/// carried `isn` and which was sent a hello of `hello_len` bytes (0: none).
pub fn ack_is_ours(ack: u32, isn: u32, hello_len: usize) -> bool {
    let first = isn.wrapping_add(1);
    ack == first || ack == first.wrapping_add(hello_len as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::segment::{parse_ip, write};
    use std::net::{IpAddr, Ipv4Addr};

    fn syn_ack() -> Incoming<'static> {
        Incoming {
            src: IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            sport: 80,
            dport: 61003,
            seq: 0xffff_ffff,
            ack: 0x1000_0001,
            flags: tcp::SYN | tcp::ACK,
            window: 65160,
            ttl: 63,
            payload: &[],
        }
    }

    #[test]
    fn follow_up_numbers() {
        let sa = syn_ack();
        let a = complete(&sa);
        assert_eq!(
            (a.src, a.dst, a.sport, a.dport),
            (
                IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
                IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4)),
                61003,
                80
            )
        );
        assert_eq!(
            (a.seq, a.ack, a.flags),
            (0x1000_0001, 0, tcp::ACK),
            "ack wraps past 2^32"
        );
        let h = hello(&sa, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            (h.seq, h.ack, h.flags),
            (0x1000_0001, 0, tcp::PSH | tcp::ACK)
        );
        assert_eq!(h.payload.len(), 18);

        // The service answers with 100 bytes, acknowledging our hello.
        let data = Incoming {
            seq: 0,
            ack: 0x1000_0001 + 18,
            flags: tcp::PSH | tcp::ACK,
            payload: &[0u8; 100],
            ..sa
        };
        assert!(ack_is_ours(data.ack, 0x1000_0000, 18));
        assert!(
            ack_is_ours(0x1000_0001, 0x1000_0000, 18),
            "data before our hello"
        );
        assert!(!ack_is_ours(0x1000_0002, 0x1000_0000, 18));
        assert!(ack_is_ours(0, u32::MAX, 0));
        let r = close(&data);
        assert_eq!((r.seq, r.flags), (0x1000_0001 + 18, tcp::RST));
    }

    /// The follow-ups go through the segment writer and read back, over
    /// either family.
    #[test]
    fn follow_ups_are_written() {
        let v6 = Incoming {
            src: "2001:2::4".parse().unwrap(),
            dst: "2001:2:0:ff::1".parse().unwrap(),
            ..syn_ack()
        };
        for sa in [syn_ack(), v6] {
            let mut out = [0u8; 100];
            let n = write(&mut out, None, &hello(&sa, b"PING\r\n")).unwrap();
            let r = parse_ip(&out[..n]).unwrap();
            assert_eq!((r.sport, r.dport, r.payload), (61003, 80, &b"PING\r\n"[..]));
            assert_eq!((r.src, r.dst), (sa.dst, sa.src));
            assert_eq!(r.window, WINDOW);
            let c = close(&sa);
            assert_eq!((c.src, c.dst, c.flags), (sa.dst, sa.src, tcp::RST));
        }
    }
}
