//! The IPv6 half of the sender: what `send::run` does for a pair whose
//! address is IPv6. The pair's path comes from the IPv6 routes, the link
//! header carries ethertype 0x86dd, the probe module's IPv6 template writes
//! the packet, and the cookie is computed over the 128-bit addresses. The
//! ways out are the sender's: IPv6 paths follow the IPv4 paths in its
//! [`TxSet`].

use super::plan::{Plan, Progress};
use super::tx::TxSet;
use crate::net::route::Link;
use crate::wire::ethernet::{self, Mac};
use crate::wire::ipv6::ETHERTYPE_IPV6;
use std::sync::atomic::Ordering;

/// Per-sender constants of the IPv6 paths.
#[derive(Debug)]
pub struct Ctx6 {
    /// Our MAC on each IPv6 path (zero without a link header).
    src_macs: Vec<Mac>,
    /// Our addresses on each IPv6 path.
    sources: Vec<Vec<u128>>,
    /// Index of the first IPv6 path in the sender's ways out.
    offset: usize,
}

impl Ctx6 {
    pub fn new(plan: &Plan) -> Ctx6 {
        let paths = &plan.routes6.paths;
        Ctx6 {
            src_macs: paths
                .iter()
                .map(|p| match p.iface.link {
                    Link::Ethernet { src_mac } => src_mac,
                    _ => Mac::ZERO,
                })
                .collect(),
            sources: paths
                .iter()
                .map(|p| p.sources.iter().map(|&s| u128::from(s)).collect())
                .collect(),
            offset: plan.routes.paths.len(),
        }
    }
}

/// Queue copies `copies` (0 is the first probe; each with the module's
/// variants) of pair (`dst`, `port`, port entry `pi`) in
/// round `round`; returns how many were queued (0: no route, or an on-link
/// host that did not answer neighbour discovery).
#[allow(clippy::too_many_arguments)]
pub fn queue(
    plan: &Plan,
    ctx: &Ctx6,
    tx: &mut TxSet,
    progress: &Progress,
    (dst, port, pi): (u128, u16, u64),
    copies: std::ops::Range<u32>,
    round: u32,
) -> std::io::Result<usize> {
    let routes = &*plan.routes6;
    let Some((p, mac)) = routes
        .path_of(dst)
        .and_then(|p| routes.next_mac(p, dst).map(|m| (p, m)))
    else {
        progress.unreachable.fetch_add(1, Ordering::Relaxed);
        return Ok(0);
    };
    let sources = &ctx.sources[p];
    let folded = (dst ^ (dst >> 32) ^ (dst >> 64) ^ (dst >> 96)) as u32;
    let k = Plan::source_for(folded, sources.len());
    let src = sources[k];
    let (m, variants) = plan.port_module[pi as usize];
    let Some(template) = plan.templates6[p][k][m as usize].as_deref() else {
        progress.unreachable.fetch_add(1, Ordering::Relaxed);
        return Ok(0);
    };
    let b = ctx.offset + p;
    let dst_ip = std::net::IpAddr::V6(dst.into());
    let mut n = 0;
    for c in copies {
        let sport = if c == 0 {
            plan.id.sport(round)
        } else {
            plan.id.sport_copy(round, c)
        };
        let cookie = plan.id.key.cookie(src, dst, sport, port);
        for v in 0..variants {
            if tx.is_full(b) {
                tx.flush(b, progress)?;
            }
            let slot = tx.slot(b)?;
            let h = match mac {
                Some(m) => {
                    let mut e = ethernet::Frame::new_unchecked(&mut slot[..]);
                    e.set_dst(m);
                    e.set_src(ctx.src_macs[p]);
                    e.set_ethertype(ETHERTYPE_IPV6);
                    ethernet::HEADER_LEN
                }
                None => 0,
            };
            let len = template.write_variant(&mut slot[h..], dst_ip, sport, port, cookie, v);
            tx.commit(b, h + len, 0);
            n += 1;
        }
    }
    Ok(n)
}
