//! The per-shard probe order, checked on the library without sending
//! anything: the same seed gives every shard the same order on every run (so
//! N machines agree on who probes what without talking), shards are disjoint
//! and cover the space exactly, and sender threads split a shard the same way.

use synsweep::cli::ScanArgs;
use synsweep::config::{scan_config, shard_from_env};
use synsweep::engine::permutation::{Permutation, Slice};
use synsweep::resume::PausedScan;

/// Shard `k` of `n`, sender `t` of `threads`: the indices it probes, in order.
fn order(space: u64, seed: u64, k: u64, n: u64, t: u64, threads: u64) -> Vec<u64> {
    let perm = Permutation::new(space, seed);
    let slice = Slice::shard(k, n).split(t, threads);
    (0..slice.len(space))
        .map(|j| perm.at(slice.position(j)))
        .collect()
}

#[test]
fn same_seed_same_per_shard_order_twice() {
    // 2048 addresses x 3 ports, as in tests/shard_lab.rs.
    let space = 2048 * 3;
    for k in 0..3 {
        let a = order(space, 4242, k, 3, 0, 1);
        let b = order(space, 4242, k, 3, 0, 1);
        assert_eq!(a, b, "shard {k}: same seed, same order");
        assert_eq!(a.len(), 2048);
        let c = order(space, 4243, k, 3, 0, 1);
        assert_ne!(a, c, "shard {k}: another seed, another order");
        // Random order, not a sorted stride.
        let ascending = a.windows(2).filter(|w| w[0] < w[1]).count();
        assert!(
            (700..1350).contains(&ascending),
            "shard {k}: {ascending} ascending steps of {}",
            a.len() - 1
        );
    }
}

#[test]
fn shards_are_disjoint_and_cover_the_space_exactly_once() {
    for (space, n) in [(196_608u64, 3u64), (6144, 3), (1000, 7), (5, 8), (1, 1)] {
        let mut seen = vec![0u8; space as usize];
        let mut lens = Vec::new();
        for k in 0..n {
            let idx = order(space, 99, k, n, 0, 1);
            lens.push(idx.len() as u64);
            for i in idx {
                seen[i as usize] += 1;
            }
        }
        assert!(
            seen.iter().all(|&c| c == 1),
            "space {space}, {n} shards: every index exactly once"
        );
        // Balanced: shard sizes differ by at most one.
        let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
        assert!(hi - lo <= 1, "{lens:?}");
    }
}

#[test]
fn seed_alone_decides_the_shard_contents_not_the_other_shards() {
    // Shard 2/3 probes the same set whatever machine computes it; a
    // different seed gives it a different set (not just a different order).
    let space = 6144;
    let mut a = order(space, 7, 1, 3, 0, 1);
    let mut b = order(space, 8, 1, 3, 0, 1);
    a.sort_unstable();
    b.sort_unstable();
    assert_ne!(a, b);
}

#[test]
fn sender_threads_split_a_shard_without_changing_what_it_probes() {
    let space = 6144;
    for threads in [1u64, 2, 3, 4] {
        let mut all: Vec<u64> = (0..threads)
            .flat_map(|t| order(space, 4242, 1, 3, t, threads))
            .collect();
        all.sort_unstable();
        let mut one = order(space, 4242, 1, 3, 0, 1);
        one.sort_unstable();
        assert_eq!(all, one, "{threads} senders");
        // And each thread's order is reproducible too.
        for t in 0..threads {
            assert_eq!(
                order(space, 4242, 1, 3, t, threads),
                order(space, 4242, 1, 3, t, threads)
            );
        }
    }
}

fn args(extra: impl FnOnce(&mut ScanArgs)) -> ScanArgs {
    let mut a = ScanArgs {
        targets: vec!["198.19.0.0/21".into()],
        ports: Some("22,80,443".into()),
        ..Default::default()
    };
    extra(&mut a);
    a
}

#[test]
fn the_command_line_names_the_same_shard_by_flag_or_environment() {
    let by_flag = scan_config(
        &args(|a| {
            a.seed = Some(4242);
            a.shard = Some("2/3".into());
        }),
        String::new(),
    )
    .unwrap();
    assert_eq!((by_flag.seed, by_flag.shard), (4242, (1, 3)));
    // JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are 0-based.
    for var in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] {
        let env = |v: &str| (v == var).then(|| "1".to_string());
        assert_eq!(shard_from_env(&format!("{var}/3"), env).unwrap(), (1, 3));
    }
    // No seed: refused, as bad input (exit 2).
    let e = scan_config(&args(|a| a.shard = Some("1/3".into())), String::new()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--seed"), "{e}");
}

#[test]
fn a_resume_file_brings_its_shard_back() {
    let cfg = scan_config(
        &args(|a| {
            a.seed = Some(4242);
            a.shard_from_env = Some("JOB_COMPLETION_INDEX/3".into());
        }),
        String::new(),
    );
    // The variable is not set in this test process: refused.
    assert!(std::env::var("JOB_COMPLETION_INDEX").is_err());
    assert_eq!(cfg.unwrap_err().exit_code(), 2);

    let paused = PausedScan {
        version: synsweep::resume::VERSION,
        args: args(|a| {
            a.shard_from_env = Some("JOB_COMPLETION_INDEX/3".into());
        }),
        space: 6144,
        seed: 4242,
        shard: (2, 3),
        key: (1, 2),
        sport_base: 61000,
        round: 0,
        next: vec![100],
        sent: 100,
        answered: String::new(),
        outputs: vec![],
        found: 0,
        checkpoint: false,
        lossy: Vec::new(),
        held: Vec::new(),
    };
    // Resumed anywhere (no scheduler variable needed), it is shard 3/3 again.
    let merged = paused.merge_args(&ScanArgs::default());
    assert_eq!(merged.shard.as_deref(), Some("3/3"));
    assert_eq!(merged.shard_from_env, None);
    assert_eq!(merged.seed, Some(4242));
    let cfg = scan_config(&merged, String::new()).unwrap();
    assert_eq!((cfg.seed, cfg.shard), (4242, (2, 3)));
    paused.check_config(&cfg).unwrap();
    // A command line that names another shard is refused.
    let other = ScanArgs {
        shard: Some("1/3".into()),
        ..Default::default()
    };
    assert_eq!(paused.check_given(&other).unwrap_err().exit_code(), 2);
}
