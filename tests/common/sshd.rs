//! A real OpenSSH server on port 22 of every alive host of a veth lab's
//! target namespace: a service that names itself (`SSH-2.0-...`), for
//! tests that check identification under some setup.

use super::Lab;
use super::daemons::Daemons;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Start sshd (host key generated in `dir`, many unauthenticated
/// connections at once) in `lab`'s target namespace and wait until it
/// listens. Killed when the returned [`Daemons`] is dropped.
pub fn start_sshd(lab: &Lab, dir: &Path) -> Daemons {
    let key = dir.join("ssh_host_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (Debian package openssh-client)");
    assert!(out.status.success(), "ssh-keygen: {out:?}");
    // sshd's privilege separation directory.
    std::fs::create_dir_all("/run/sshd").unwrap();
    let mut daemons = Daemons(Vec::new());
    daemons.start(
        lab,
        "/usr/sbin/sshd",
        &[
            "-D",
            "-e",
            "-f",
            "/dev/null",
            "-h",
            key.to_str().unwrap(),
            "-o",
            "ListenAddress=0.0.0.0:22",
            "-o",
            "MaxStartups=2000",
            "-o",
            "PidFile=none",
        ],
    );
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                lab.target_ns(),
                "ss",
                "-Htln",
                "sport = :22",
            ])
            .output()
            .expect("ss");
        if !out.stdout.is_empty() {
            return daemons;
        }
        if let Ok(Some(st)) = daemons.0[0].1.try_wait() {
            panic!("sshd exited ({st}) before tcp/22 was open");
        }
        assert!(Instant::now() < end, "sshd never listened on tcp/22");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `synsweep_*` nftables tables in `lab`'s scanner namespace.
pub fn guard_tables(lab: &Lab) -> Vec<String> {
    let out = lab.run_in_scanner(Command::new("nft").args(["list", "tables"]));
    assert!(out.status.success(), "nft list tables: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("synsweep_"))
        .map(str::to_string)
        .collect()
}
