//! An AF_XDP socket for sending, and its unsafe code, behind a safe type:
//! [`XdpTx`] owns a UMEM (packet memory shared with the kernel), a TX ring
//! and a completion ring, bound to one queue of one interface. The sender
//! writes a probe straight into a free UMEM frame ([`XdpTx::slot`]), queues
//! it ([`XdpTx::commit`]), and [`XdpTx::flush`] hands the queued frames to
//! the kernel; frames come back on the completion ring, which every call
//! drains. No XDP program is needed to send.
//!
//! Zero-copy is asked for first (drivers that support it read the UMEM
//! themselves); copy mode otherwise (veth, and most drivers), where each
//! kick turns at most 32 frames into skbs. `XDP_USE_NEED_WAKEUP` is asked
//! for and honoured: the kernel is kicked only when the ring's flag says so.
//! The fill ring exists only because the kernel refuses a UMEM without one.
//! The UMEM counts against `RLIMIT_MEMLOCK` unless the process has
//! `CAP_IPC_LOCK`; a queue takes one UMEM (a second socket gets `EBUSY`).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Bytes per UMEM frame (the smallest chunk the kernel takes; a probe with
/// its link header fits many times over).
pub const FRAME_SIZE: usize = 2048;
/// UMEM frames per socket: 2 MiB of locked memory.
pub const FRAMES: usize = 1024;
/// Entries of the TX, completion and fill rings (at least [`FRAMES`], so
/// that they can never overflow).
const RING: u32 = FRAMES as u32;
/// How long a busy queue is waited for (see [`XdpTx::open`]).
pub const BUSY_WAIT: Duration = Duration::from_millis(250);
/// Bytes of locked memory one socket needs (its UMEM).
pub const UMEM_BYTES: usize = FRAME_SIZE * FRAMES;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: &OwnedFd, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the size we pass.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            name,
            val as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Which mode a bound socket runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The driver reads the UMEM itself.
    ZeroCopy,
    /// The kernel copies each frame into an skb.
    Copy,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::ZeroCopy => "zero-copy",
            Mode::Copy => "copy",
        })
    }
}

/// A memory mapping, unmapped on drop.
struct Map {
    ptr: NonNull<u8>,
    len: usize,
}

impl Map {
    /// Anonymous memory, or a ring of socket `fd` at `offset`.
    fn new(len: usize, fd: Option<(&OwnedFd, libc::off_t)>) -> io::Result<Map> {
        let (flags, raw, off) = match fd {
            Some((fd, off)) => (libc::MAP_SHARED, fd.as_raw_fd(), off),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0),
        };
        // SAFETY: a fresh mapping at an address of the kernel's choice.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags | libc::MAP_POPULATE,
                raw,
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Map {
            ptr: NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap gave null"))?,
            len,
        })
    }

    /// A pointer to the `T` at byte `off`, checked to lie inside the
    /// mapping with room for `n` of them, and aligned.
    fn at<T>(&self, off: u64, n: usize) -> io::Result<*mut T> {
        let off = off as usize;
        if off + n * size_of::<T>() > self.len || !off.is_multiple_of(std::mem::align_of::<T>()) {
            return Err(io::Error::other("AF_XDP ring offsets out of the mapping"));
        }
        // SAFETY: in bounds (checked above).
        Ok(unsafe { self.ptr.as_ptr().add(off) as *mut T })
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from a successful mmap and nothing borrows it
        // past the owner's life.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// An AF_XDP socket bound to one queue, for sending.
pub struct XdpTx {
    // Field order is drop order: rings and socket before the UMEM. The
    // ring mappings are used through the pointers below.
    _tx: Map,
    _cq: Map,
    fd: OwnedFd,
    umem: Map,
    /// The rings' shared words and entries, inside `tx` and `cq`.
    tx_prod: *const AtomicU32,
    tx_cons: *const AtomicU32,
    tx_flags: *const AtomicU32,
    tx_desc: *mut libc::xdp_desc,
    cq_prod: *const AtomicU32,
    cq_cons: *const AtomicU32,
    cq_desc: *const u64,
    /// UMEM frames that are ours (not queued, not in the kernel's hands).
    free: Vec<u64>,
    /// The frame handed out by the last `slot`, until `commit`.
    reserved: Option<u64>,
    /// Our TX producer: descriptors written so far.
    tx_head: u32,
    /// The producer value the kernel has seen.
    tx_published: u32,
    /// Frames committed since the last flush.
    queued: usize,
    /// Our completion consumer.
    cq_head: u32,
    mode: Mode,
    need_wakeup: bool,
    queue: u32,
}

// SAFETY: the mappings are owned by this value alone; the kernel is the only
// other party, and it synchronises through the rings' atomic words.
unsafe impl Send for XdpTx {}

impl std::fmt::Debug for XdpTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpTx")
            .field("queue", &self.queue)
            .field("mode", &self.mode)
            .field("need_wakeup", &self.need_wakeup)
            .finish()
    }
}

/// What stopped an AF_XDP socket from binding, in words for the user.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EAFNOSUPPORT) => "no AF_XDP support in this kernel".into(),
        Some(libc::EBUSY) => "the queue is busy (another AF_XDP socket holds it)".into(),
        Some(libc::ENOBUFS) | Some(libc::ENOMEM) | Some(libc::EAGAIN) => format!(
            "not enough locked memory for its {} KiB packet buffer (RLIMIT_MEMLOCK; ulimit -l)",
            UMEM_BYTES / 1024
        ),
        Some(libc::EPERM) => "not permitted (needs CAP_NET_RAW)".into(),
        _ => e.to_string(),
    }
}

impl XdpTx {
    /// Open a socket bound to queue `queue` of interface `ifindex`:
    /// zero-copy if the driver offers it, copy mode otherwise. A queue
    /// that is busy is waited for up to [`BUSY_WAIT`]: the kernel frees a
    /// closed socket's queue a moment after the close (in a work item), so a
    /// scan that starts right after another on the same link finds it still
    /// bound.
    pub fn open(ifindex: u32, queue: u32) -> io::Result<XdpTx> {
        let start = std::time::Instant::now();
        loop {
            match XdpTx::open_any(ifindex, queue) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < BUSY_WAIT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => return r,
            }
        }
    }

    /// [`open`](Self::open), once: the first mode the kernel takes.
    fn open_any(ifindex: u32, queue: u32) -> io::Result<XdpTx> {
        let wake = libc::XDP_USE_NEED_WAKEUP;
        let mut last = None;
        for flags in [
            libc::XDP_ZEROCOPY | wake,
            libc::XDP_COPY | wake,
            libc::XDP_COPY,
        ] {
            match XdpTx::open_with(ifindex, queue, flags) {
                Ok(s) => return Ok(s),
                // Nothing to gain from another mode.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EAFNOSUPPORT | libc::EBUSY | libc::ENOBUFS | libc::EPERM)
                    ) =>
                {
                    return Err(e);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("AF_XDP bind failed")))
    }

    fn open_with(ifindex: u32, queue: u32, flags: u16) -> io::Result<XdpTx> {
        // SAFETY: plain socket(2) call.
        let fd =
            cvt(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let umem = Map::new(UMEM_BYTES, None)?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr.as_ptr() as u64,
            len: UMEM_BYTES as u64,
            chunk_size: FRAME_SIZE as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(&fd, libc::XDP_UMEM_REG, &reg)?;
        // The fill ring feeds receives only, but bind refuses a UMEM without
        // one; it is never mapped.
        setsockopt(&fd, libc::XDP_UMEM_FILL_RING, &RING)?;
        setsockopt(&fd, libc::XDP_UMEM_COMPLETION_RING, &RING)?;
        setsockopt(&fd, libc::XDP_TX_RING, &RING)?;
        // SAFETY: an all-zero xdp_mmap_offsets is a valid value.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: off and len are valid for writing; the kernel writes at most len bytes.
        cvt(unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                &mut off as *mut _ as *mut libc::c_void,
                &mut len,
            )
        })?;
        if len as usize != size_of::<libc::xdp_mmap_offsets>() {
            // A kernel older than 5.4 (no flags word, so no need_wakeup).
            return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        }
        let tx = Map::new(
            off.tx.desc as usize + RING as usize * size_of::<libc::xdp_desc>(),
            Some((&fd, libc::XDP_PGOFF_TX_RING)),
        )?;
        let cq = Map::new(
            off.cr.desc as usize + RING as usize * size_of::<u64>(),
            Some((&fd, libc::XDP_UMEM_PGOFF_COMPLETION_RING as libc::off_t)),
        )?;
        let sxdp = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: sxdp is a valid sockaddr_xdp of the size passed.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sxdp as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        })?;
        let mut opts = libc::xdp_options { flags: 0 };
        let mut len = size_of::<libc::xdp_options>() as libc::socklen_t;
        // SAFETY: opts and len are valid for writing.
        let zc = cvt(unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_OPTIONS,
                &mut opts as *mut _ as *mut libc::c_void,
                &mut len,
            )
        })
        .is_ok()
            && opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0;
        let mut s = XdpTx {
            tx_prod: tx.at(off.tx.producer, 1)?,
            tx_cons: tx.at(off.tx.consumer, 1)?,
            tx_flags: tx.at(off.tx.flags, 1)?,
            tx_desc: tx.at(off.tx.desc, RING as usize)?,
            cq_prod: cq.at(off.cr.producer, 1)?,
            cq_cons: cq.at(off.cr.consumer, 1)?,
            cq_desc: cq.at(off.cr.desc, RING as usize)?,
            _tx: tx,
            _cq: cq,
            fd,
            umem,
            free: (0..FRAMES as u64)
                .rev()
                .map(|i| i * FRAME_SIZE as u64)
                .collect(),
            reserved: None,
            tx_head: 0,
            tx_published: 0,
            queued: 0,
            cq_head: 0,
            mode: if zc { Mode::ZeroCopy } else { Mode::Copy },
            need_wakeup: flags & libc::XDP_USE_NEED_WAKEUP != 0,
            queue,
        };
        // Start from the rings' own indexes (zero on a fresh socket).
        s.tx_head = s.word(s.tx_prod).load(Ordering::Relaxed);
        s.tx_published = s.tx_head;
        s.cq_head = s.word(s.cq_cons).load(Ordering::Relaxed);
        Ok(s)
    }

    /// One of the rings' shared words.
    #[inline]
    fn word(&self, w: *const AtomicU32) -> &AtomicU32 {
        // SAFETY: w is one of our ring words, checked in bounds and aligned
        // when the rings were mapped, and the mapping lives as long as self;
        // the kernel updates it atomically.
        unsafe { &*w }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Frames committed since the last flush.
    pub fn pending(&self) -> usize {
        self.queued
    }

    /// Take back the frames the kernel is done with.
    fn reclaim(&mut self) {
        let prod = self.word(self.cq_prod).load(Ordering::Acquire);
        if prod == self.cq_head {
            return;
        }
        while self.cq_head != prod {
            let i = (self.cq_head & (RING - 1)) as usize;
            // SAFETY: entry i < RING lies inside the mapped completion ring
            // (checked at open), which the kernel filled before publishing
            // `prod` (acquire above).
            let addr = unsafe { self.cq_desc.add(i).read_volatile() };
            // The address we queued; kept to a frame start inside the UMEM
            // whatever the ring says, so that `slot` stays in bounds.
            let frame = (addr % UMEM_BYTES as u64) / FRAME_SIZE as u64;
            self.free.push(frame * FRAME_SIZE as u64);
            self.cq_head = self.cq_head.wrapping_add(1);
        }
        self.word(self.cq_cons)
            .store(self.cq_head, Ordering::Release);
    }

    /// Tell the kernel there is something to send (when the ring asks, or
    /// always without need_wakeup). In copy mode this is where frames go
    /// out, at most 32 per call; a frame the driver dropped (`EBUSY`: a
    /// veth whose peer's backlog is full) is queued again, as AF_PACKET
    /// sends retry on `ENOBUFS`.
    fn kick(&mut self) -> io::Result<()> {
        if self.need_wakeup
            && self.word(self.tx_flags).load(Ordering::Acquire) & libc::XDP_RING_NEED_WAKEUP == 0
        {
            return Ok(());
        }
        // SAFETY: a zero-length send on our own socket touches no memory.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: budget spent or the driver busy (the frame stays
            // queued); EBUSY: the last frame taken was dropped.
            match e.raw_os_error() {
                Some(libc::EBUSY) => self.requeue_dropped()?,
                Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => {}
                _ => return Err(e),
            }
        }
        Ok(())
    }

    /// Queue again the frame the kernel took last and dropped: a copy in a
    /// free frame, behind what is queued.
    fn requeue_dropped(&mut self) -> io::Result<()> {
        let cons = self.word(self.tx_cons).load(Ordering::Acquire);
        let i = (cons.wrapping_sub(1) & (RING - 1)) as usize;
        // SAFETY: entry i < RING lies inside the mapped TX ring; it holds the
        // descriptor we wrote last there (we write an entry again only once
        // RING newer ones are queued, and the kernel does not write TX
        // entries).
        let d = unsafe { self.tx_desc.add(i).read_volatile() };
        let (from, len) = (
            (d.addr % UMEM_BYTES as u64) as usize / FRAME_SIZE * FRAME_SIZE,
            (d.len as usize).min(FRAME_SIZE),
        );
        let to = match self.free.pop() {
            Some(a) => a,
            None => {
                // The dropped frame itself comes back on the completion ring.
                self.reclaim();
                self.free
                    .pop()
                    .ok_or_else(|| io::Error::other("AF_XDP: no frame to send again"))?
            }
        } as usize;
        // SAFETY: both ranges lie inside the UMEM (frame starts below
        // UMEM_BYTES, len <= FRAME_SIZE); `to` is ours (free list), `from`
        // is no longer the kernel's (taken and dropped); ptr::copy allows
        // them to be the same frame.
        unsafe {
            let base = self.umem.ptr.as_ptr();
            std::ptr::copy(base.add(from), base.add(to), len);
        }
        self.push(to as u64, len);
        self.publish();
        Ok(())
    }

    /// A free UMEM frame to write a frame into, then [`commit`](Self::commit).
    /// Waits for the kernel to give frames back when all are in use.
    pub fn slot(&mut self) -> io::Result<&mut [u8]> {
        let addr = match self.reserved {
            Some(a) => a,
            None => {
                let mut stalls = 0u32;
                let a = loop {
                    if let Some(a) = self.free.pop() {
                        break a;
                    }
                    self.reclaim();
                    if !self.free.is_empty() {
                        continue;
                    }
                    self.publish();
                    self.kick()?;
                    stalls += 1;
                    if stalls > 20_000 {
                        return Err(io::Error::other("AF_XDP: the kernel gives no frames back"));
                    }
                    if stalls > 16 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                };
                self.reserved = Some(a);
                a
            }
        };
        // SAFETY: addr is the start of one of our frames (a multiple of
        // FRAME_SIZE below UMEM_BYTES), which the kernel does not touch while
        // it is on our free list or reserved; the borrow of self keeps it
        // exclusive until the next call.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.umem.ptr.as_ptr().add(addr as usize), FRAME_SIZE)
        })
    }

    /// Queue the frame written into the last [`slot`](Self::slot), `len`
    /// bytes long.
    pub fn commit(&mut self, len: usize) {
        let addr = self.reserved.take().expect("commit without slot");
        self.push(addr, len);
        self.queued += 1;
    }

    /// Write a TX descriptor for frame `addr`, `len` bytes long.
    fn push(&mut self, addr: u64, len: usize) {
        let i = (self.tx_head & (RING - 1)) as usize;
        let d = libc::xdp_desc {
            addr,
            len: len.min(FRAME_SIZE) as u32,
            options: 0,
        };
        // SAFETY: entry i lies inside the mapped TX ring; it is free because
        // at most FRAMES (= RING) descriptors can be outstanding, and the
        // kernel reads it only after we publish the producer (release).
        unsafe { self.tx_desc.add(i).write_volatile(d) };
        self.tx_head = self.tx_head.wrapping_add(1);
    }

    fn publish(&mut self) {
        if self.tx_published != self.tx_head {
            self.word(self.tx_prod)
                .store(self.tx_head, Ordering::Release);
            self.tx_published = self.tx_head;
        }
    }

    /// Hand every queued frame to the kernel and wait until it has taken
    /// them off the TX ring; returns how many that was.
    pub fn flush(&mut self) -> io::Result<usize> {
        let n = self.pending();
        self.publish();
        let mut stalls = 0u32;
        loop {
            self.reclaim();
            let cons = self.word(self.tx_cons).load(Ordering::Acquire);
            if cons == self.tx_head {
                self.queued = 0;
                return Ok(n);
            }
            let before = cons;
            self.kick()?;
            let after = self.word(self.tx_cons).load(Ordering::Acquire);
            if after == before {
                stalls += 1;
                if stalls > 20_000 {
                    let left = self.tx_head.wrapping_sub(after) as usize;
                    return Err(io::Error::other(format!(
                        "AF_XDP: the kernel took {} of {n} frames",
                        n.saturating_sub(left)
                    )));
                }
                if stalls > 16 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            } else {
                stalls = 0;
            }
        }
    }
}

/// TX queues of interface `name` (from sysfs; 1 when unknown).
pub fn tx_queues(name: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{name}/queues"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
                .count()
        })
        .unwrap_or(0)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_a_tx_queue_and_junk_one() {
        assert!(tx_queues("lo") >= 1);
        assert_eq!(tx_queues("no-such-if0"), 1);
    }

    #[test]
    fn reasons_are_worded() {
        let e = io::Error::from_raw_os_error(libc::ENOBUFS);
        assert!(describe(&e).contains("locked memory"));
        let e = io::Error::from_raw_os_error(libc::EBUSY);
        assert!(describe(&e).contains("busy"));
    }
}
