//! Every syscall the scanner makes, and all of its unsafe code, lives here
//! behind safe types (as in mio): AF_PACKET sockets with a classic BPF filter
//! and batched `sendmmsg`/`recvmmsg`, a raw IPv4 socket for loopback, and the
//! kernel's drop counters. Each call goes through `cvt`, which turns -1 into
//! `io::Error`.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Turn a libc call's -1 into the `io::Error` of errno: every call in
/// `net/` goes through here.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the size we pass.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

use crate::wire::bpf::Insn;

/// Ethernet protocol numbers for AF_PACKET.
pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;

/// `sll_pkttype` of a frame we sent ourselves.
pub const PACKET_OUTGOING: u8 = 4;

/// Interface index of `name`.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// An AF_PACKET SOCK_RAW socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Open a socket bound to `ifindex` that receives `protocol` frames
    /// (0 for a send-only socket that receives nothing).
    pub fn open(ifindex: u32, protocol: u16) -> io::Result<Self> {
        // SAFETY: plain socket(2) call.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol.to_be() as i32,
            )
        })?;
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let s = PacketSocket { fd, ifindex };
        // SAFETY: zeroed sockaddr_ll is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size passed.
        cvt(unsafe {
            libc::bind(
                s.fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        Ok(s)
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Hand frames straight to the driver, skipping the qdisc layer.
    pub fn set_qdisc_bypass(&self) -> io::Result<()> {
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &1i32,
        )
    }

    /// Attach a classic BPF filter; frames it rejects never reach us.
    pub fn attach_filter(&self, prog: &[Insn]) -> io::Result<()> {
        let mut code: Vec<libc::sock_filter> = prog
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(code.len())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            filter: code.as_mut_ptr(),
        };
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog,
        )
    }

    /// A socket for sending only, bound to `protocol` (which sets the
    /// protocol of every frame sent: layer-3 devices such as WireGuard
    /// check it), with a filter that takes nothing in.
    pub fn open_sender(ifindex: u32, protocol: u16) -> io::Result<Self> {
        let s = PacketSocket::open(ifindex, protocol)?;
        if protocol != 0 {
            s.attach_filter(&[crate::wire::bpf::insn(crate::wire::bpf::RET_K, 0, 0, 0)])?;
        }
        Ok(s)
    }

    pub fn set_recv_buffer(&self, bytes: i32) -> io::Result<()> {
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &bytes,
        )
        .or_else(|_| {
            setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &bytes,
            )
        })
    }

    /// Make receives return after `t` with nothing.
    pub fn set_recv_timeout(&self, t: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: t.as_secs() as _,
            tv_usec: t.subsec_micros() as _,
        };
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv,
        )
    }

    /// Send one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: frame is a valid buffer of the given length.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Receive a batch of frames into `batch`; returns how many arrived (0 on
    /// timeout). Frames we sent ourselves are marked in `RxBatch::outgoing`.
    pub fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        batch.prepare();
        // SAFETY: prepare() pointed every header at live buffers owned by batch.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                batch.hdr.as_mut_ptr(),
                batch.hdr.len() as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        batch.filled = n as usize;
        Ok(batch.filled)
    }

    /// Receive one frame (with a receive timeout set, `Ok(None)` on timeout).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is a valid writable buffer of the given length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    /// Kernel counters since the last call: (frames received, frames dropped).
    pub fn stats(&self) -> io::Result<(u32, u32)> {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: st and len are valid for writing; the kernel writes at most len bytes.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut _ as *mut libc::c_void,
                &mut len,
            )
        })?;
        Ok((st.tp_packets, st.tp_drops))
    }
}

/// Largest frame a receive slot holds; TCP replies are small, UDP replies
/// (and ICMP errors quoting UDP probes) are checked whole, up to this size;
/// longer frames are cut (MSG_TRUNC).
pub const RX_SLOT: usize = 2048;

/// Buffers for one `recvmmsg` call.
pub struct RxBatch {
    bufs: Vec<[u8; RX_SLOT]>,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
    addr: Vec<libc::sockaddr_ll>,
    filled: usize,
}

// SAFETY: the raw pointers inside only ever point into the batch's own heap
// buffers, and are refreshed before each use.
unsafe impl Send for RxBatch {}

impl RxBatch {
    pub fn new(cap: usize) -> Self {
        RxBatch {
            bufs: vec![[0u8; RX_SLOT]; cap],
            // SAFETY: all-zero iovec, mmsghdr and sockaddr_ll are valid values.
            iov: vec![unsafe { zeroed() }; cap],
            hdr: vec![unsafe { zeroed() }; cap],
            addr: vec![unsafe { zeroed() }; cap],
            filled: 0,
        }
    }

    fn prepare(&mut self) {
        for i in 0..self.bufs.len() {
            self.iov[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: RX_SLOT,
            };
            // SAFETY: zeroed msghdr is valid; we fill the pointers below.
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = &mut self.iov[i];
            m.msg_iovlen = 1;
            m.msg_name = &mut self.addr[i] as *mut _ as *mut libc::c_void;
            m.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            self.hdr[i] = libc::mmsghdr {
                msg_hdr: m,
                msg_len: 0,
            };
        }
        self.filled = 0;
    }

    pub fn len(&self) -> usize {
        self.filled
    }

    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Frame `i` of the last receive, and whether we sent it ourselves.
    pub fn frame(&self, i: usize) -> (&[u8], bool) {
        let n = (self.hdr[i].msg_len as usize).min(RX_SLOT);
        (
            &self.bufs[i][..n],
            self.addr[i].sll_pkttype == PACKET_OUTGOING,
        )
    }
}

/// Largest probe a transmit slot holds (the largest UDP payload, WS-Discovery, is 624 bytes).
pub const TX_SLOT: usize = 1024;

/// Frames for one `sendmmsg` call, each with an optional IPv4 destination
/// (for raw IP sockets).
pub struct TxBatch {
    bufs: Vec<[u8; TX_SLOT]>,
    lens: Vec<usize>,
    dsts: Vec<u32>,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
    addr: Vec<libc::sockaddr_in>,
    len: usize,
}

// SAFETY: as for RxBatch.
unsafe impl Send for TxBatch {}

impl TxBatch {
    pub fn new(cap: usize) -> Self {
        TxBatch {
            bufs: vec![[0u8; TX_SLOT]; cap],
            lens: vec![0; cap],
            dsts: vec![0; cap],
            // SAFETY: all-zero iovec, mmsghdr and sockaddr_in are valid values.
            iov: vec![unsafe { zeroed() }; cap],
            hdr: vec![unsafe { zeroed() }; cap],
            addr: vec![unsafe { zeroed() }; cap],
            len: 0,
        }
    }
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn is_full(&self) -> bool {
        self.len == self.bufs.len()
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
    /// The next free slot; fill it, then `commit`.
    pub fn slot(&mut self) -> &mut [u8; TX_SLOT] {
        &mut self.bufs[self.len]
    }
    pub fn commit(&mut self, len: usize, dst: u32) {
        self.lens[self.len] = len;
        self.dsts[self.len] = dst;
        self.len += 1;
    }
    /// Frame `i` of the batch.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    fn prepare(&mut self, with_addr: bool) {
        for i in 0..self.len {
            self.iov[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: self.lens[i],
            };
            // SAFETY: zeroed msghdr is valid; we fill the pointers below.
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = &mut self.iov[i];
            m.msg_iovlen = 1;
            if with_addr {
                self.addr[i].sin_family = libc::AF_INET as u16;
                self.addr[i].sin_addr.s_addr = self.dsts[i].to_be();
                m.msg_name = &mut self.addr[i] as *mut _ as *mut libc::c_void;
                m.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            }
            self.hdr[i] = libc::mmsghdr {
                msg_hdr: m,
                msg_len: 0,
            };
        }
    }

    /// Send the whole batch on `fd`; returns how many frames the kernel took
    /// (all of them unless an error other than a full queue stops us).
    fn send_on(&mut self, fd: RawFd, with_addr: bool) -> io::Result<usize> {
        self.prepare(with_addr);
        let mut done = 0;
        let mut stalls = 0;
        while done < self.len {
            // SAFETY: prepare() pointed headers done..len at live buffers.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdr[done..].as_mut_ptr(),
                    (self.len - done) as u32,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR)
                        if stalls < 10_000 =>
                    {
                        stalls += 1;
                        std::thread::sleep(Duration::from_micros(50));
                        continue;
                    }
                    _ if done > 0 => return Ok(done),
                    _ => return Err(e),
                }
            }
            done += n as usize;
        }
        Ok(done)
    }
}

/// An IP version, for what is opened per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

/// A raw IP socket of one family with our own headers (`IPPROTO_RAW`
/// implies `IP_HDRINCL` and `IPV6_HDRINCL`): the way to reach our own
/// addresses (127.0.0.1, `::1`), where AF_PACKET frames on `lo` are
/// dropped as martians.
#[derive(Debug)]
pub struct RawIpSocket {
    fd: OwnedFd,
    version: IpVersion,
}

impl RawIpSocket {
    pub fn open(version: IpVersion) -> io::Result<Self> {
        let domain = match version {
            IpVersion::V4 => libc::AF_INET,
            IpVersion::V6 => libc::AF_INET6,
        };
        // SAFETY: plain socket(2) call.
        let fd = cvt(unsafe {
            libc::socket(
                domain,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_RAW,
            )
        })?;
        // SAFETY: fd was just returned by socket(2).
        Ok(RawIpSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            version,
        })
    }

    /// Mark what this socket sends (`SO_MARK`, needs CAP_NET_ADMIN): the
    /// RST guard lets marked RSTs of our own pass.
    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        setsockopt(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_MARK, &mark)
    }

    /// Send every packet of `batch` (bare IP packets); returns how many the
    /// kernel took. IPv4 packets go to the destination the batch holds for
    /// each, IPv6 packets to the one in their own header.
    fn send_batch(&self, batch: &mut TxBatch) -> io::Result<usize> {
        match self.version {
            IpVersion::V4 => batch.send_on(self.fd.as_raw_fd(), true),
            IpVersion::V6 => self.send_by_header(batch),
        }
    }
}

/// Where probes go: an interface (frames with Ethernet headers) or the raw
/// IP layer (bare IP packets, addressed per packet).
#[derive(Debug)]
pub enum TxSocket {
    Packet(PacketSocket),
    RawIp(RawIpSocket),
}

impl TxSocket {
    pub fn send_batch(&self, batch: &mut TxBatch) -> io::Result<usize> {
        match self {
            TxSocket::Packet(s) => batch.send_on(s.fd.as_raw_fd(), false),
            TxSocket::RawIp(s) => s.send_batch(batch),
        }
    }
}

impl RawIpSocket {
    /// Send every packet of `batch` (bare IPv6 packets), each to the
    /// destination in its own header; returns how many the kernel took.
    fn send_by_header(&self, batch: &TxBatch) -> io::Result<usize> {
        let mut stalls = 0;
        let mut i = 0;
        while i < batch.len() {
            let p = batch.frame(i);
            if p.len() < 40 {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            // SAFETY: an all-zero sockaddr_in6 is valid.
            let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
            sa.sin6_family = libc::AF_INET6 as u16;
            sa.sin6_addr.s6_addr.copy_from_slice(&p[24..40]);
            // SAFETY: the buffer and the address are valid for their lengths.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    p.as_ptr() as *const libc::c_void,
                    p.len(),
                    0,
                    &sa as *const _ as *const libc::sockaddr,
                    size_of::<libc::sockaddr_in6>() as u32,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR)
                        if stalls < 10_000 =>
                    {
                        stalls += 1;
                        std::thread::sleep(Duration::from_micros(50));
                        continue;
                    }
                    _ if i > 0 => return Ok(i),
                    _ => return Err(e),
                }
            }
            i += 1;
        }
        Ok(i)
    }
}

/// Let this thread's sleeps end within a microsecond of their deadline
/// instead of the default 50 us timer slack: the sender's paced batches are
/// a few hundred microseconds apart.
pub fn fine_timer_slack() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer and touches no memory.
    cvt(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_junk_does_not() {
        assert!(if_index("lo").unwrap() > 0);
        assert!(if_index("no-such-if0").is_err());
    }

    #[test]
    fn tx_batch_slots() {
        let mut b = TxBatch::new(2);
        b.slot()[..3].copy_from_slice(&[1, 2, 3]);
        b.commit(3, 7);
        assert_eq!(b.frame(0), &[1, 2, 3]);
        assert!(!b.is_full());
        b.slot();
        b.commit(0, 0);
        assert!(b.is_full());
        b.clear();
        assert!(b.is_empty());
    }
}
