//! The host's input backlog drops, for the `--rate max` controller (which
//! takes them as an input and reads no file itself).

/// Frames the host dropped because a CPU's input backlog was full
/// (`net.core.netdev_max_backlog`): the sum of the second column of
/// `/proc/net/softnet_stat` over all CPUs. The counter is host-wide, so drops
/// caused by others count too (the controller then errs on the slow side).
/// `None` when the file cannot be read.
pub fn backlog_drops() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    parse_softnet(&s)
}

fn parse_softnet(s: &str) -> Option<u64> {
    s.lines()
        .map(|l| {
            let col = l.split_whitespace().nth(1)?;
            u64::from_str_radix(col, 16).ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softnet_drops_are_summed_over_cpus() {
        let s = "0002e2a5 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                 000e04a1 000000f0 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000\n";
        assert_eq!(parse_softnet(s), Some(0x0a + 0xf0));
        assert_eq!(parse_softnet("zz"), None);
        assert!(backlog_drops().is_some());
    }
}
