//! Hostile replies for the lab: build broken, forged and odd TCP replies as
//! raw Ethernet frames and send them from the target namespace to the
//! scanner over the lab's veth, and sniff the scanner's probes there to learn
//! its source ports and sequence numbers (so a forgery can carry the right
//! acknowledgement number and be wrong in exactly one other way).
//!
//! Everything here is built independently of synsweep's own `wire` module,
//! so a bug there cannot hide itself. It only ever runs on a thread inside a
//! lab's target namespace (`Lab::in_target`), on the target's veth, whose
//! only peer is the lab's scanner namespace.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const ETH_P_IP: u16 = 0x0800;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// A TCP/IPv4 reply as a forger wants it, before any deliberate breakage.
#[derive(Clone, Debug)]
pub struct Reply {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub ttl: u8,
    /// IP options (padded to a multiple of 4 with EOL).
    pub ip_options: Vec<u8>,
    /// TCP options (padded to a multiple of 4 with EOL).
    pub tcp_options: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Reply {
    /// A SYN-ACK answering a probe (`probe` as seen on the wire).
    pub fn answering(p: &Probe, flags: u8) -> Reply {
        Reply {
            src: p.dst,
            dst: p.src,
            sport: p.dport,
            dport: p.sport,
            seq: 0x1234_5678,
            ack: p.seq.wrapping_add(1),
            flags,
            ttl: 64,
            ip_options: Vec::new(),
            tcp_options: vec![2, 4, 5, 0xb4],
            payload: Vec::new(),
        }
    }

    /// The IPv4 packet: header (checksum right), TCP header (checksum right
    /// over the pseudo-header), payload.
    pub fn ipv4(&self) -> Vec<u8> {
        let pad4 = |v: &[u8]| {
            let mut v = v.to_vec();
            while !v.len().is_multiple_of(4) {
                v.push(0);
            }
            v
        };
        let (ipo, tcpo) = (pad4(&self.ip_options), pad4(&self.tcp_options));
        assert!(ipo.len() <= 40 && tcpo.len() <= 40);
        let ihl = 20 + ipo.len();
        let thl = 20 + tcpo.len();
        let total = ihl + thl + self.payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x40 | (ihl / 4) as u8;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&0x5353u16.to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = self.ttl;
        p[9] = 6;
        p[12..16].copy_from_slice(&self.src.octets());
        p[16..20].copy_from_slice(&self.dst.octets());
        p[20..ihl].copy_from_slice(&ipo);
        let c = checksum(&p[..ihl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let t = &mut p[ihl..];
        t[0..2].copy_from_slice(&self.sport.to_be_bytes());
        t[2..4].copy_from_slice(&self.dport.to_be_bytes());
        t[4..8].copy_from_slice(&self.seq.to_be_bytes());
        t[8..12].copy_from_slice(&self.ack.to_be_bytes());
        t[12] = ((thl / 4) as u8) << 4;
        t[13] = self.flags;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t[20..thl].copy_from_slice(&tcpo);
        t[thl..].copy_from_slice(&self.payload);
        let mut pseudo = Vec::with_capacity(12 + t.len());
        pseudo.extend(self.src.octets());
        pseudo.extend(self.dst.octets());
        pseudo.extend([0, 6]);
        pseudo.extend(((t.len()) as u16).to_be_bytes());
        pseudo.extend_from_slice(t);
        let c = checksum(&pseudo);
        t[16..18].copy_from_slice(&c.to_be_bytes());
        p
    }
}

/// Recompute the IPv4 header checksum of `p` for the header length its IHL
/// names (clamped to the packet).
pub fn fix_ip_checksum(p: &mut [u8]) {
    let ihl = (((p[0] & 0x0f) as usize) * 4).clamp(20, p.len());
    p[10] = 0;
    p[11] = 0;
    let c = checksum(&p[..ihl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// An Ethernet II frame around `payload`.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend(dst);
    f.extend(src);
    f.extend(ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A SYN probe as sniffed on the target's side of the veth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
}

impl Probe {
    /// A bare SYN (no ACK, RST, FIN) in an Ethernet frame, or None.
    pub fn parse(frame: &[u8]) -> Option<Probe> {
        if frame.len() < 14 + 20 + 20 || frame[12..14] != [0x08, 0x00] {
            return None;
        }
        let ip = &frame[14..];
        let ihl = ((ip[0] & 0x0f) as usize) * 4;
        if ip[0] >> 4 != 4 || ip[9] != 6 || ihl < 20 || ip.len() < ihl + 20 {
            return None;
        }
        let t = &ip[ihl..];
        if t[13] & (SYN | ACK | RST | FIN) != SYN {
            return None;
        }
        let a = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        Some(Probe {
            src: a(&ip[12..16]),
            dst: a(&ip[16..20]),
            sport: u16::from_be_bytes([t[0], t[1]]),
            dport: u16::from_be_bytes([t[2], t[3]]),
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        })
    }
}

/// An AF_PACKET socket bound to one interface of the current thread's
/// network namespace: sends whole Ethernet frames, receives IPv4 frames.
pub struct PacketSocket {
    fd: OwnedFd,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl PacketSocket {
    /// Open on `iface` (of this thread's namespace), capturing IPv4.
    pub fn open(iface: &str) -> io::Result<PacketSocket> {
        Self::open_ethertype(iface, ETH_P_IP)
    }

    /// Open on `iface`, capturing frames of `ethertype` (0x86dd: IPv6).
    pub fn open_ethertype(iface: &str, ethertype: u16) -> io::Result<PacketSocket> {
        let name = std::ffi::CString::new(iface).unwrap();
        // SAFETY: plain syscalls on values we own; the fd moves into OwnedFd.
        unsafe {
            let idx = libc::if_nametoindex(name.as_ptr());
            if idx == 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = cvt(libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ethertype.to_be()),
            ))?;
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ethertype.to_be();
            sll.sll_ifindex = idx as i32;
            cvt(libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            ))?;
            let s = PacketSocket { fd };
            s.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, 16 << 20)?;
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 20_000,
            };
            cvt(libc::setsockopt(
                s.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            ))?;
            Ok(s)
        }
    }

    fn setsockopt(&self, level: i32, name: i32, v: i32) -> io::Result<()> {
        // SAFETY: an int option on our own fd.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                &v as *const _ as *const libc::c_void,
                4,
            )
        })
        .map(drop)
    }

    /// Send one whole frame out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the buffer is valid for its length.
            let r =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOBUFS) || e.kind() == io::ErrorKind::WouldBlock {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
            return Err(e);
        }
    }

    /// Receive one frame that arrived from the wire (not one sent from this
    /// host); None on timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: recvfrom into a buffer and a sockaddr_ll we own.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let r = libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                &mut sll as *mut _ as *mut libc::sockaddr,
                &mut len,
            );
            if r < 0 {
                let e = io::Error::last_os_error();
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    return Ok(None);
                }
                return Err(e);
            }
            if sll.sll_pkttype == libc::PACKET_OUTGOING {
                return Ok(Some(0));
            }
            Ok(Some(r as usize))
        }
    }
}

/// One way to make a reply that must never become a finding. Each is wrong
/// in at least one respect that no genuine answer to our probe could be
/// (an on-path forger who copies the probe's sequence number into a
/// well-formed SYN-ACK is outside what any SYN scanner can detect, so none
/// of these is that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// Well formed, acknowledgement off by one bit.
    AckBitFlipped,
    /// Well formed, acknowledges the sequence number itself (not + 1).
    AckNotPlusOne,
    /// A RST+ACK with an acknowledgement of + 2.
    RstAckWrong,
    /// Well formed with IP options (record route), acknowledgement wrong.
    IpOptionsWrongAck,
    /// Odd TCP options (zero and oversized lengths, unknown kinds, 40 bytes),
    /// acknowledgement wrong.
    OddTcpOptionsWrongAck,
    /// Right acknowledgement for the probe, from an address not scanned.
    FromUnscannedAddress,
    /// Right acknowledgement, from another source port.
    FromOtherPort,
    /// Right acknowledgement, to another of the scanner's source ports.
    ToOtherSourcePort,
    /// Right acknowledgement, to a port outside the scanner's range.
    ToForeignPort,
    /// Right acknowledgement, SYN without ACK.
    SynOnly,
    /// Right acknowledgement, ACK only.
    AckOnly,
    /// Right acknowledgement, RST without ACK.
    RstOnly,
    /// Right acknowledgement, SYN+RST+ACK.
    SynRstAck,
    /// Right acknowledgement, FIN+ACK.
    FinAck,
    /// Right acknowledgement, but the IP total length ends the packet 12
    /// bytes into the TCP header (the rest of the header follows as
    /// Ethernet padding).
    TruncatedTcpHeader,
    /// The frame ends inside the TCP header.
    CutFrame,
    /// IHL 4 (less than the minimum 5).
    IhlTooSmall,
    /// IHL 15: the header would run past the total length.
    IhlPastTotalLength,
    /// Total length larger than the frame.
    TotalLengthPastFrame,
    /// Total length smaller than the IP header.
    TotalLengthBelowHeader,
    /// Header checksum wrong.
    BadIpChecksum,
    /// More-fragments set (a first fragment carrying the whole TCP header).
    FirstFragment,
    /// Fragment offset non-zero.
    LaterFragment,
    /// TCP data offset 4 (less than 20 bytes).
    TcpOffsetTooSmall,
    /// TCP data offset 15 on a 24-byte segment.
    TcpOffsetPastSegment,
    /// Protocol UDP, TCP-shaped payload.
    NotTcp,
    /// IP version 6 in an IPv4 frame.
    WrongIpVersion,
    /// Addressed to another IP (the gateway), at the scanner's MAC.
    ToOtherAddress,
    /// Ethertype IPv6 around an IPv4 packet.
    WrongEthertype,
}

impl Forgery {
    pub const ALL: [Forgery; 29] = [
        Forgery::AckBitFlipped,
        Forgery::AckNotPlusOne,
        Forgery::RstAckWrong,
        Forgery::IpOptionsWrongAck,
        Forgery::OddTcpOptionsWrongAck,
        Forgery::FromUnscannedAddress,
        Forgery::FromOtherPort,
        Forgery::ToOtherSourcePort,
        Forgery::ToForeignPort,
        Forgery::SynOnly,
        Forgery::AckOnly,
        Forgery::RstOnly,
        Forgery::SynRstAck,
        Forgery::FinAck,
        Forgery::TruncatedTcpHeader,
        Forgery::CutFrame,
        Forgery::IhlTooSmall,
        Forgery::IhlPastTotalLength,
        Forgery::TotalLengthPastFrame,
        Forgery::TotalLengthBelowHeader,
        Forgery::BadIpChecksum,
        Forgery::FirstFragment,
        Forgery::LaterFragment,
        Forgery::TcpOffsetTooSmall,
        Forgery::TcpOffsetPastSegment,
        Forgery::NotTcp,
        Forgery::WrongIpVersion,
        Forgery::ToOtherAddress,
        Forgery::WrongEthertype,
    ];

    /// The frame (scanner MAC <- target MAC) that forges a reply to `p`.
    /// `unscanned` is an address outside the scan; `salt` varies choices.
    pub fn frame(
        self,
        p: &Probe,
        dst_mac: [u8; 6],
        src_mac: [u8; 6],
        unscanned: Ipv4Addr,
        salt: u32,
    ) -> Vec<u8> {
        use Forgery::*;
        let sa = SYN | ACK;
        let mut r = Reply::answering(p, if salt & 1 == 0 { sa } else { RST | ACK });
        match self {
            AckBitFlipped => r.ack ^= 1 << (salt % 32),
            AckNotPlusOne => r.ack = p.seq,
            RstAckWrong => {
                r.flags = RST | ACK;
                r.ack = p.seq.wrapping_add(2);
            }
            IpOptionsWrongAck => {
                r.flags = sa;
                r.ack = r.ack.wrapping_add(1 + salt % 1000);
                // Record route with room for 9 addresses, then NOP, EOL.
                r.ip_options = vec![7, 39, 4];
                r.ip_options.resize(39, 0);
                r.ip_options.push(1);
            }
            OddTcpOptionsWrongAck => {
                r.flags = sa;
                r.ack = !r.ack;
                // Kind 2 with length 0, an unknown kind 0xfe with length 255,
                // a window scale of 14, SACK-permitted, timestamps, junk: 40 bytes.
                r.tcp_options = vec![
                    2, 0, 0xfe, 255, 3, 3, 14, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0x22,
                    0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                    0, 1, 2, 3, 4,
                ];
            }
            FromUnscannedAddress => r.src = unscanned,
            FromOtherPort => r.sport = p.dport.wrapping_add(1 + (salt % 7) as u16),
            ToOtherSourcePort => r.dport = p.sport ^ 1,
            ToForeignPort => r.dport = 1024 + (salt % 60000) as u16,
            SynOnly => r.flags = SYN,
            AckOnly => r.flags = ACK,
            RstOnly => r.flags = RST,
            SynRstAck => r.flags = SYN | RST | ACK,
            FinAck => r.flags = FIN | ACK | PSH,
            ToOtherAddress => r.dst = Ipv4Addr::new(198, 18, 0, 2),
            _ => r.flags = sa,
        }
        let mut ip = r.ipv4();
        let ihl = ((ip[0] & 0x0f) as usize) * 4;
        let mut ethertype = ETH_P_IP;
        match self {
            TruncatedTcpHeader => {
                ip[2..4].copy_from_slice(&((ihl + 12) as u16).to_be_bytes());
                fix_ip_checksum(&mut ip);
            }
            CutFrame => {
                ip.truncate(ihl + 10 + (salt % 10) as usize);
            }
            IhlTooSmall => {
                ip[0] = 0x44;
                fix_ip_checksum(&mut ip);
            }
            IhlPastTotalLength => {
                ip[0] = 0x4f;
                fix_ip_checksum(&mut ip);
            }
            TotalLengthPastFrame => {
                let tl = ip.len() as u16 + 1 + (salt % 200) as u16;
                ip[2..4].copy_from_slice(&tl.to_be_bytes());
                fix_ip_checksum(&mut ip);
            }
            TotalLengthBelowHeader => {
                ip[2..4].copy_from_slice(&((salt % 20) as u16).to_be_bytes());
                fix_ip_checksum(&mut ip);
            }
            BadIpChecksum => ip[10] ^= 0x5a,
            FirstFragment => {
                ip[6] = 0x20; // MF
                fix_ip_checksum(&mut ip);
            }
            LaterFragment => {
                ip[6] = 0;
                ip[7] = 1 + (salt % 200) as u8; // offset 8..
                fix_ip_checksum(&mut ip);
            }
            TcpOffsetTooSmall => {
                ip[ihl + 12] = 0x40;
            }
            TcpOffsetPastSegment => {
                ip[ihl + 12] = 0xf0;
            }
            NotTcp => {
                ip[9] = 17;
                fix_ip_checksum(&mut ip);
            }
            WrongIpVersion => {
                ip[0] = 0x60 | (ip[0] & 0x0f);
                fix_ip_checksum(&mut ip);
            }
            WrongEthertype => ethertype = 0x86dd,
            _ => {}
        }
        let mut f = ethernet(dst_mac, src_mac, ethertype, &ip);
        if self == TruncatedTcpHeader {
            // Pad the frame to the Ethernet minimum, as a NIC would.
            while f.len() < 60 {
                f.push(0);
            }
        }
        f
    }
}
