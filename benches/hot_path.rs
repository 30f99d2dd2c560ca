//! Micro-benchmarks of the per-probe and per-reply work: the permutation
//! lookup (and a shard's count of one host's ports), the (address, port)
//! decomposition, the cookie, probe crafting (template write + cookie), and
//! reply parsing. Run with
//! `cargo bench --bench hot_path`. These are measurements, not tests.

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use synsweep::engine::cookie::CookieKey;
use synsweep::engine::permutation::{Permutation, Slice};
use synsweep::engine::space::{ShardPorts, Space};
use synsweep::probe::tcp_syn::{PROBE_LEN, ProbeTemplate, TcpSyn};
use synsweep::probe::{Identity, Probe, Sources, Template};
use synsweep::targets::RangeSet;
use synsweep::wire::reply;

const SRC: u32 = 0xc612_0001; // 198.18.0.1
const LAB: (u32, u32) = (0xc613_0000, 0xc613_ffff); // 198.19.0.0/16

struct P {
    perm: Permutation,
    space: Space,
    key: CookieKey,
    template: ProbeTemplate,
}

fn plan(ports: Vec<u16>) -> P {
    let space = Space::new(RangeSet::from_ranges(vec![LAB]), ports);
    P {
        perm: Permutation::new(space.len(), 7),
        space,
        key: CookieKey { k0: 1, k1: 2 },
        template: ProbeTemplate::new(Ipv4Addr::from(SRC)),
    }
}

fn permutation(c: &mut Criterion) {
    let mut g = c.benchmark_group("permutation");
    g.throughput(Throughput::Elements(1024));
    for (name, ports) in [
        ("lab16x3", vec![22, 80, 443]),
        ("lab16x65535", (1..=65535).collect::<Vec<u16>>()),
    ] {
        let p = plan(ports);
        let slice = Slice::WHOLE.split(1, 2);
        let total = slice.len(p.perm.len());
        let mut j = 0u64;
        g.bench_function(format!("at/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u64;
                for _ in 0..1024 {
                    acc ^= p.perm.at(slice.position(j));
                    j = (j + 1) % total;
                }
                black_box(acc)
            })
        });
        let mut j = 0u64;
        g.bench_function(format!("at+pair/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for _ in 0..1024 {
                    let (ip, port, _) = p.space.pair(p.perm.at(slice.position(j)));
                    acc ^= ip ^ port as u32;
                    j = (j + 1) % total;
                }
                black_box(acc)
            })
        });
    }
    g.finish();
    // A shard's count of one host's TCP ports (once per host that may be a
    // middlebox): a position lookup per port of the scan.
    let mut g = c.benchmark_group("shard_ports");
    let p = plan((1..=65535).collect());
    let of = ShardPorts::new(p.space.clone(), p.perm.clone(), Slice::shard(0, 2));
    let mut a = LAB.0;
    g.throughput(Throughput::Elements(65535));
    g.bench_function("tcp_ports/lab16x65535", |b| {
        b.iter(|| {
            a = if a == LAB.1 { LAB.0 } else { a + 1 };
            black_box(of.tcp_ports(IpAddr::V4(Ipv4Addr::from(a))))
        })
    });
    g.finish();
}

fn craft(c: &mut Criterion) {
    let p = plan(vec![22, 80, 443]);
    let mut g = c.benchmark_group("craft");
    g.throughput(Throughput::Elements(1024));
    g.bench_function("cookie", |b| {
        let mut dst = LAB.0;
        b.iter(|| {
            let mut acc = 0u32;
            for _ in 0..1024 {
                acc ^= p.key.cookie(SRC, dst, 61000, 80);
                dst = dst.wrapping_add(1);
            }
            black_box(acc)
        })
    });
    g.bench_function("template_write", |b| {
        let mut out = [0u8; PROBE_LEN];
        let mut dst = LAB.0;
        b.iter(|| {
            for _ in 0..1024 {
                p.template.write(
                    &mut out,
                    IpAddr::V4(dst.into()),
                    61000,
                    80,
                    dst.rotate_left(7),
                );
                dst = dst.wrapping_add(1);
            }
            black_box(&out);
        })
    });
    // What the sender does per probe: position -> pair -> cookie -> packet,
    // through the module's boxed template as the sender calls it.
    let boxed: Box<dyn Template> = TcpSyn.template(Ipv4Addr::from(SRC).into());
    g.bench_function("probe_end_to_end", |b| {
        let mut frames = vec![[0u8; 64]; 1024];
        let total = p.perm.len();
        let mut j = 0u64;
        b.iter(|| {
            for f in frames.iter_mut() {
                let (ip, port, _) = p.space.pair(p.perm.at(j));
                j = (j + 1) % total;
                let seq = p.key.cookie(SRC, ip, 61000, port);
                boxed.write(&mut f[14..], IpAddr::V4(ip.into()), 61000, port, seq);
            }
            black_box(&frames);
        })
    });
    g.finish();
}

/// A SYN-ACK from 198.19.1.2:80 to 198.18.0.1:61000, as the lab sends it
/// (the IP packet, without a link header).
fn syn_ack(key: CookieKey) -> Vec<u8> {
    let t = ProbeTemplate::new(Ipv4Addr::new(198, 19, 1, 2));
    let mut f = vec![0u8; PROBE_LEN];
    let ack = key.cookie(SRC, 0xc613_0102, 61000, 80).wrapping_add(1);
    let n = t.write(&mut f, IpAddr::V4(SRC.into()), 80, 61000, 12345);
    f.truncate(n);
    // Turn the SYN into a SYN-ACK (checksums are not re-done: the parser
    // checks only the IP header checksum, which this does not touch).
    f[20 + 13] = 0x12;
    f[20 + 8..20 + 12].copy_from_slice(&ack.to_be_bytes());
    f
}

fn parse(c: &mut Criterion) {
    let key = CookieKey { k0: 1, k1: 2 };
    let f = syn_ack(key);
    let id = Identity {
        key,
        sources: Sources {
            v4: vec![SRC],
            v6: vec![],
        },
        sport_base: 61000,
        sport_count: 16,
    };
    assert!(TcpSyn.classify(&f, &id).is_ok());
    let mut g = c.benchmark_group("reply");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_ipv4", |b| {
        b.iter_batched_ref(
            || f.clone(),
            |f| black_box(reply::parse_ipv4(black_box(f))),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("classify_tcp_syn", |b| {
        b.iter_batched_ref(
            || f.clone(),
            |f| black_box(TcpSyn.classify(black_box(f), &id)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, permutation, craft, parse);
criterion_main!(benches);
