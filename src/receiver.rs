//! The receiver: captures frames on the scan interface through a classic BPF
//! filter that keeps only unfragmented IPv4/TCP to our address and source
//! ports, parses them with bounds-checked views, and forwards the replies in
//! batches to the correlator.

use crate::sys::{BpfInsn, PacketSocket, RxBatch, bpf};
use crate::wire::reply::{self, Reply};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

// Classic BPF opcodes (linux/bpf_common.h).
const LD_H_ABS: u16 = 0x28;
const LD_W_ABS: u16 = 0x20;
const LD_B_ABS: u16 = 0x30;
const LDX_B_MSH: u16 = 0xb1;
const LD_H_IND: u16 = 0x48;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JGT_K: u16 = 0x25;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// The filter for frames with an Ethernet header: IPv4, to `dst`, TCP, not a
/// fragment, destination port in `[lo, hi]`.
pub fn filter(dst: u32, lo: u16, hi: u16) -> Vec<BpfInsn> {
    vec![
        bpf(LD_H_ABS, 0, 0, 12),       // 0: ethertype
        bpf(JEQ_K, 0, 10, 0x0800),     // 1: IPv4?        else drop
        bpf(LD_W_ABS, 0, 0, 30),       // 2: ip dst
        bpf(JEQ_K, 0, 8, dst),         // 3: ours?        else drop
        bpf(LD_B_ABS, 0, 0, 23),       // 4: protocol
        bpf(JEQ_K, 0, 6, 6),           // 5: TCP?         else drop
        bpf(LD_H_ABS, 0, 0, 20),       // 6: flags+frag offset
        bpf(JSET_K, 4, 0, 0x3fff),     // 7: fragment?    drop
        bpf(LDX_B_MSH, 0, 0, 14),      // 8: x = ip header length
        bpf(LD_H_IND, 0, 0, 16),       // 9: tcp dst port
        bpf(JGE_K, 0, 1, lo as u32),   // 10: >= lo?      else drop
        bpf(JGT_K, 0, 1, hi as u32),   // 11: > hi?       drop, else keep
        bpf(RET_K, 0, 0, 0),           // 12: drop
        bpf(RET_K, 0, 0, 0x0004_0000), // 13: keep (snap 256 KiB)
    ]
}

/// Counters the status line shows.
#[derive(Debug, Default)]
pub struct RxStats {
    /// Frames that passed the filter and parsed as replies.
    pub frames: AtomicU64,
    /// Frames that passed the filter but did not parse.
    pub malformed: AtomicU64,
    /// Frames the kernel dropped because we were too slow.
    pub kernel_drops: AtomicU64,
}

/// Receive until `stop` is set, forwarding parsed replies.
pub fn run(
    sock: PacketSocket,
    out: Sender<Vec<Reply>>,
    stop: &AtomicBool,
    stats: &RxStats,
) -> std::io::Result<()> {
    let mut batch = RxBatch::new(256);
    let mut polled = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let n = sock.recv_batch(&mut batch)?;
        if n > 0 {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                let (frame, outgoing) = batch.frame(i);
                if outgoing {
                    continue;
                }
                match reply::parse_ethernet(frame) {
                    Ok(r) => v.push(r),
                    Err(_) => {
                        stats.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            stats.frames.fetch_add(v.len() as u64, Ordering::Relaxed);
            if !v.is_empty() && out.send(v).is_err() {
                break;
            }
        }
        // Kernel drops feed the status line and `--rate max`: read them
        // every 20 ms (the call also resets them).
        if (n == 0 || polled.elapsed() >= std::time::Duration::from_millis(20))
            && let Ok((_, drops)) = sock.stats()
        {
            polled = std::time::Instant::now();
            stats
                .kernel_drops
                .fetch_add(drops as u64, Ordering::Relaxed);
        }
    }
    if let Ok((_, drops)) = sock.stats() {
        stats
            .kernel_drops
            .fetch_add(drops as u64, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the classic BPF program over a frame: a tiny interpreter for the
    /// opcodes the filter uses, so the program is checked without a kernel.
    fn run_bpf(prog: &[BpfInsn], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let ld = |off: usize, n: usize| -> Option<u32> {
            pkt.get(off..off + n)
                .map(|b| b.iter().fold(0, |acc, &v| (acc << 8) | v as u32))
        };
        loop {
            let i = prog[pc];
            pc += 1;
            let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
            match i.code {
                LD_H_ABS => {
                    a = match ld(i.k as usize, 2) {
                        Some(v) => v,
                        None => return 0,
                    }
                }
                LD_W_ABS => {
                    a = match ld(i.k as usize, 4) {
                        Some(v) => v,
                        None => return 0,
                    }
                }
                LD_B_ABS => {
                    a = match ld(i.k as usize, 1) {
                        Some(v) => v,
                        None => return 0,
                    }
                }
                LDX_B_MSH => {
                    x = match ld(i.k as usize, 1) {
                        Some(v) => (v & 0xf) * 4,
                        None => return 0,
                    }
                }
                LD_H_IND => {
                    a = match ld(x as usize + i.k as usize, 2) {
                        Some(v) => v,
                        None => return 0,
                    }
                }
                JEQ_K => pc += jump(a == i.k),
                JGE_K => pc += jump(a >= i.k),
                JGT_K => pc += jump(a > i.k),
                JSET_K => pc += jump(a & i.k != 0),
                RET_K => return i.k,
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    fn frame(dst: [u8; 4], proto: u8, frag: u16, ihl: u8, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + ihl as usize * 4 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x40 | ihl;
        f[20..22].copy_from_slice(&frag.to_be_bytes());
        f[23] = proto;
        f[30..34].copy_from_slice(&dst);
        let t = 14 + ihl as usize * 4;
        f[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn filter_keeps_only_our_tcp() {
        let us = [198, 18, 0, 1];
        let p = filter(u32::from_be_bytes(us), 61000, 61015);
        assert!(run_bpf(&p, &frame(us, 6, 0, 5, 61000)) > 0);
        assert!(
            run_bpf(&p, &frame(us, 6, 0x4000, 5, 61015)) > 0,
            "DF is fine"
        );
        assert!(
            run_bpf(&p, &frame(us, 6, 0, 6, 61007)) > 0,
            "IP options shift the TCP header"
        );
        assert_eq!(run_bpf(&p, &frame(us, 6, 0, 5, 60999)), 0);
        assert_eq!(run_bpf(&p, &frame(us, 6, 0, 5, 61016)), 0);
        assert_eq!(run_bpf(&p, &frame(us, 17, 0, 5, 61000)), 0, "UDP");
        assert_eq!(
            run_bpf(&p, &frame([198, 18, 0, 2], 6, 0, 5, 61000)),
            0,
            "not our address"
        );
        assert_eq!(
            run_bpf(&p, &frame(us, 6, 0x2000, 5, 61000)),
            0,
            "more fragments"
        );
        assert_eq!(
            run_bpf(&p, &frame(us, 6, 0x0010, 5, 61000)),
            0,
            "fragment offset"
        );
        let mut arp = frame(us, 6, 0, 5, 61000);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run_bpf(&p, &arp), 0);
        assert_eq!(run_bpf(&p, &arp[..20]), 0, "short frame");
    }
}
