//! Least privilege, in the lab: synsweep runs as an unprivileged user that
//! holds only CAP_NET_RAW; without it, it exits 1 with one line naming
//! CAP_NET_RAW; started as root it gives up every capability once its
//! sockets are open (seen in /proc/PID/status of the running scanner),
//! unless --keep-root; started through sudo it becomes the sudo user.
//!
//! File capabilities, as the shipped setups grant them (a copy of the binary
//! with `setcap`, run by user nobody with no capability of its own): with
//! `cap_net_raw,cap_net_admin+ep` it identifies a real sshd and leaves no
//! RST guard table behind; with `cap_net_raw+ep` it finds the same open
//! ports and says once that services are not identified.

mod common;

use common::Lab;
use common::daemons::Daemons;
use common::findings::{pairs, records};
use common::sshd::{guard_tables, start_sshd};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: &str = "65534";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_synsweep")
}

/// A temporary directory uid 65534 may write to.
fn shared_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// `setpriv` to uid/gid 65534 with no groups, holding `caps` (e.g.
/// "+net_raw", or "-all") as inheritable and ambient capabilities, then
/// synsweep with `args`.
fn as_nobody(caps: &str, cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.current_dir(cwd)
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            &format!("--inh-caps={caps}"),
        ])
        .args(if caps.starts_with('+') {
            vec![format!("--ambient-caps={caps}")]
        } else {
            vec![]
        })
        .arg(bin())
        .args(args);
    c
}

#[test]
fn runs_as_nobody_with_only_cap_net_raw() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = shared_dir();
    let range = "198.19.0.0/20";
    let out = lab.run_in_scanner(&mut as_nobody(
        "+net_raw",
        dir.path(),
        &[
            "scan",
            range,
            "-p",
            "22,80,443",
            "--rate",
            "20000",
            "--wait",
            "1",
            "-o",
            "f.ndjson",
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    let f = dir.path().join("f.ndjson");
    let meta = std::fs::metadata(&f).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        65534,
        "written by nobody"
    );
    assert_eq!(
        pairs(&records(&f), "open"),
        lab.ground_truth_open(&[22, 80, 443], range)
    );
}

#[test]
fn without_cap_net_raw_exits_1_naming_it() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = shared_dir();
    let out = lab.run_in_scanner(&mut as_nobody(
        "-all",
        dir.path(),
        &[
            "scan",
            "198.19.0.0/24",
            "-p",
            "22",
            "--wait",
            "0",
            "-o",
            "f.ndjson",
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(lab.counters().syn_in, 0, "nothing was sent");
}

/// The `Name:` line values of /proc/PID/status for the process and each of
/// its threads.
fn status_lines(pid: u32, name: &str) -> Vec<String> {
    let mut v = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return v;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("status"))
            && let Some(l) = s.lines().find(|l| l.starts_with(name))
        {
            v.push(l[name.len()..].trim().to_string());
        }
    }
    v
}

/// Spawn a slow scan in the lab and return it once it is sending (the
/// target has seen SYNs: the sockets are open and the drop is done).
fn spawn_sending(lab: &Lab, cwd: &Path, extra: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .args([
            "scan",
            "198.19.0.0/22",
            "-p",
            "22,80,443",
            "--rate",
            "1000",
            "--wait",
            "0",
            "-q",
            "-o",
            "f.ndjson",
        ])
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = lab
        .wrap_in_scanner(&c)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while lab.counters().syn_in < 100 {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("scan ended early: {st}");
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "scan never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop(mut child: Child) {
    // SAFETY: SIGINT to our own child (`ip netns exec` execs synsweep).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait().unwrap();
    assert_eq!(out.code(), Some(75));
}

#[test]
fn root_drops_every_capability_once_sockets_are_open() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = shared_dir();
    let child = spawn_sending(&lab, dir.path(), &[], &[]);
    let pid = child.id();
    let eff = status_lines(pid, "CapEff:");
    let prm = status_lines(pid, "CapPrm:");
    let bnd = status_lines(pid, "CapBnd:");
    let amb = status_lines(pid, "CapAmb:");
    let nnp = status_lines(pid, "NoNewPrivs:");
    let uid = status_lines(pid, "Uid:");
    stop(child);
    eprintln!("privilege test (root): CapEff {eff:?} CapPrm {prm:?} CapBnd {bnd:?} Uid {uid:?}");
    assert!(eff.len() >= 3, "threads: {eff:?}");
    let zero = "0000000000000000";
    for (what, v) in [
        ("CapEff", &eff),
        ("CapPrm", &prm),
        ("CapBnd", &bnd),
        ("CapAmb", &amb),
    ] {
        assert!(v.iter().all(|c| c == zero), "{what} {v:?}");
    }
    assert!(nnp.iter().all(|v| v == "1"), "NoNewPrivs {nnp:?}");
}

#[test]
fn keep_root_keeps_capabilities() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = shared_dir();
    let child = spawn_sending(&lab, dir.path(), &["--keep-root"], &[]);
    let eff = status_lines(child.id(), "CapEff:");
    stop(child);
    eprintln!("privilege test (--keep-root): CapEff {eff:?}");
    assert!(!eff.is_empty());
    assert!(
        eff.iter().all(|c| c != "0000000000000000"),
        "CapEff {eff:?}"
    );
}

#[test]
fn under_sudo_becomes_the_invoking_user() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = shared_dir();
    let child = spawn_sending(
        &lab,
        dir.path(),
        &[],
        &[("SUDO_UID", NOBODY), ("SUDO_GID", NOBODY)],
    );
    let pid = child.id();
    let uid = status_lines(pid, "Uid:");
    let gid = status_lines(pid, "Gid:");
    let groups = status_lines(pid, "Groups:");
    let eff = status_lines(pid, "CapEff:");
    stop(child);
    eprintln!("privilege test (sudo): Uid {uid:?} Gid {gid:?} Groups {groups:?} CapEff {eff:?}");
    let nobody4 = "65534\t65534\t65534\t65534";
    assert!(!uid.is_empty());
    assert!(uid.iter().all(|u| u == nobody4), "Uid {uid:?}");
    assert!(gid.iter().all(|g| g == nobody4), "Gid {gid:?}");
    assert!(groups.iter().all(|g| g.is_empty()), "Groups {groups:?}");
    assert!(
        eff.iter().all(|c| c == "0000000000000000"),
        "CapEff {eff:?}"
    );
    // paused.json was still written, as the sudo user.
    assert!(dir.path().join("paused.json").is_file());
}

/// A copy of the binary, in a directory everyone may enter, with the file
/// capabilities `caps` (`setcap` syntax).
fn capped_binary(caps: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let b = d.path().join("synsweep");
    std::fs::copy(bin(), &b).unwrap();
    let out = Command::new("setcap")
        .arg(caps)
        .arg(&b)
        .output()
        .expect("setcap (Debian package libcap2-bin)");
    assert!(
        out.status.success(),
        "setcap {caps}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (d, b)
}

/// A veth lab (one host in four alive) with a real sshd on port 22 of
/// every alive host.
fn sshd_lab(dir: &Path) -> (Lab, Daemons) {
    let lab = Lab::builder().alive_mask("0.0.0.3", "0.0.0.0").build();
    let daemons = start_sshd(&lab, dir);
    (lab, daemons)
}

/// The alive hosts of `range` (a /24 or smaller in 198.19.0.0/16) x port 22.
fn ssh_truth(lab: &Lab, first: Ipv4Addr, count: u32) -> BTreeSet<(Ipv4Addr, u16)> {
    (0..count)
        .map(|i| Ipv4Addr::from(u32::from(first) + i))
        .filter(|a| lab.is_alive(*a))
        .map(|a| (a, 22))
        .collect()
}

/// Run the capped binary `b` as nobody (no capability of its own, none
/// ambient: only the file's) on the sshd lab; its findings and stderr.
fn scan_as_nobody_with_file_caps(
    lab: &Lab,
    b: &Path,
    dir: &Path,
) -> (Vec<serde_json::Value>, String) {
    let mut c = Command::new("setpriv");
    c.current_dir(dir)
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(b)
        .args([
            "scan",
            "198.19.0.0/26",
            "-p",
            "22",
            "--rate",
            "2000",
            "--wait",
            "1",
            "-o",
            "f.ndjson",
        ]);
    let out = lab.run_in_scanner(&mut c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}: {err}", out.status);
    (records(&dir.join("f.ndjson")), err)
}

#[test]
fn file_caps_net_raw_and_net_admin_identify_as_nobody() {
    let dir = shared_dir();
    let (_bdir, b) = capped_binary("cap_net_raw,cap_net_admin+ep");
    let (lab, _daemons) = sshd_lab(dir.path());
    let (recs, err) = scan_as_nobody_with_file_caps(&lab, &b, dir.path());
    assert!(!err.contains("warning"), "{err}");
    let truth = ssh_truth(&lab, "198.19.0.0".parse().unwrap(), 64);
    assert_eq!(truth.len(), 16);
    assert_eq!(pairs(&recs, "open"), truth, "{err}");
    for r in recs.iter().filter(|r| r["state"] == "open") {
        assert_eq!(r["protocol"], "ssh", "{r}");
        assert!(
            r["banner"].as_str().unwrap_or("").starts_with("SSH-2.0-"),
            "{r}"
        );
    }
    assert!(guard_tables(&lab).is_empty(), "{:?}", guard_tables(&lab));
}

#[test]
fn file_cap_net_raw_only_scans_and_says_once_services_are_not_identified() {
    let dir = shared_dir();
    let (_bdir, b) = capped_binary("cap_net_raw+ep");
    let (lab, _daemons) = sshd_lab(dir.path());
    let (recs, err) = scan_as_nobody_with_file_caps(&lab, &b, dir.path());
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("CAP_NET_ADMIN") && warnings[0].contains("not identified"),
        "{err}"
    );
    let truth = ssh_truth(&lab, "198.19.0.0".parse().unwrap(), 64);
    assert_eq!(pairs(&recs, "open"), truth, "{err}");
    assert!(recs.iter().all(|r| r.get("protocol").is_none()), "{recs:?}");
    assert!(guard_tables(&lab).is_empty(), "{:?}", guard_tables(&lab));
}
