//! RST suppression (`synsweep::net::rstguard`) in a network namespace of the
//! test's own: the table is there while the guard lives and gone after;
//! stale tables of dead processes are removed at the next install, live
//! ones are not; a keeper removes the table of a process killed with
//! SIGKILL; and the rule really drops the kernel's RSTs from our source
//! ports, except those carrying synsweep's mark.

mod common;

use common::Lab;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;
use synsweep::net::rstguard::{self, MARK, RstGuard};

/// `nft list tables` in the calling thread's namespace.
fn tables() -> Vec<String> {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    assert!(out.status.success(), "nft list tables: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn nft(script: &str) {
    use std::io::Write;
    let mut c = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(c.wait().unwrap().success(), "nft -f - <<{script}");
}

#[test]
fn table_exists_while_the_guard_lives_and_is_gone_after() {
    let lab = Lab::loopback_only(&[]);
    lab.in_scanner(|| {
        let me = format!("table inet {}", rstguard::table_name(std::process::id()));
        assert!(!tables().contains(&me));
        let g = RstGuard::install(61000..=61015).expect("install");
        assert_eq!(format!("table inet {}", g.table()), me);
        assert!(tables().contains(&me), "{:?}", tables());
        // Installing again replaces it (one table, not two).
        let g2 = RstGuard::install(61000..=61015).expect("reinstall");
        assert_eq!(tables().iter().filter(|t| **t == me).count(), 1);
        std::mem::forget(g2);
        drop(g);
        assert!(!tables().contains(&me), "{:?}", tables());
    });
}

#[test]
fn stale_tables_of_dead_processes_are_removed_live_ones_kept() {
    let lab = Lab::loopback_only(&[]);
    lab.in_scanner(|| {
        // A pid that no longer runs.
        let mut dead = Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        // A pid that runs, whose table records its real start time ...
        let mut live = Command::new("sleep").arg("60").spawn().unwrap();
        let live_pid = live.id();
        let stat = std::fs::read_to_string(format!("/proc/{live_pid}/stat")).unwrap();
        let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        let name = rstguard::table_name;
        // A table of another pid namespace (a container on the same
        // network): its process cannot be seen from here, so it is kept,
        // whatever pid it names.
        let other = format!("synsweep_{dead_pid}_{}", rstguard::pid_ns() + 1);
        // ... and a table claiming the same live pid with another start time:
        // the pid was reused, the synsweep that made it is gone. And names
        // of older versions (no pid namespace), judged as this one's.
        nft(&format!(
            "table inet {dead} {{ }}\n\
             table inet {live} {{ comment \"synsweep pid {live_pid} start {start}\"; }}\n\
             table inet {one} {{ comment \"synsweep pid 1 start 999999999\"; }}\n\
             table inet synsweep_{dead_pid} {{ }}\n\
             table inet {other} {{ }}\n\
             table inet synsweep_lab {{ }}\n",
            dead = name(dead_pid),
            live = name(live_pid),
            one = name(1),
        ));
        // pid 1 of this pid namespace is alive but started at another time.
        let g = RstGuard::install(61000..=61015).expect("install");
        let t = tables();
        let has = |n: &str| t.contains(&format!("table inet {n}"));
        assert!(!has(&name(dead_pid)), "{t:?}");
        assert!(!has(&format!("synsweep_{dead_pid}")), "{t:?}");
        assert!(!has(&name(1)), "{t:?}");
        assert!(has(&name(live_pid)), "{t:?}");
        assert!(has(&other), "{t:?}");
        assert!(has("synsweep_lab"), "{t:?}");
        drop(g);
        live.kill().unwrap();
        live.wait().unwrap();
        // Now that one is stale too.
        assert_eq!(rstguard::remove_stale().unwrap(), vec![name(live_pid)]);
        let left: std::collections::BTreeSet<String> = tables()
            .into_iter()
            .filter(|t| t.starts_with("table inet synsweep_"))
            .collect();
        let want = [
            format!("table inet {other}"),
            "table inet synsweep_lab".to_string(),
        ];
        assert_eq!(left, want.into_iter().collect());
        nft(&format!("delete table inet {other}\n"));
    });
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: &[i32]) {
    // SAFETY: valid fd, pointer and length of a live array.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value.as_ptr().cast(),
            std::mem::size_of_val(value) as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// A connection to a listener on `port`; the server side is aborted
/// (SO_LINGER 0: the kernel sends a RST from `port`), optionally marked.
/// Returns what the client's read sees.
fn abort_from(port: u16, mark: Option<u32>) -> std::io::Result<usize> {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    if let Some(m) = mark {
        setsockopt_int(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_MARK, &[m as i32]);
    }
    setsockopt_int(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, &[1, 0]);
    drop(s);
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    c.read(&mut [0u8; 16])
}

#[test]
fn the_rule_drops_rsts_from_our_ports_but_not_marked_ones() {
    let lab = Lab::loopback_only(&[]);
    lab.in_scanner(|| {
        // Without the guard the RST arrives.
        let e = abort_from(61005, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);

        let g = RstGuard::install(61000..=61015).expect("install");
        assert_eq!(g.dropped().unwrap(), 0);
        let e = abort_from(61006, None).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "RST got through: {e:?}"
        );
        // The abort's RST, and the RST answering the client's FIN after it.
        assert!(g.dropped().unwrap() >= 1);
        // Our own marked RSTs pass; ports outside the range are untouched.
        let e = abort_from(61007, Some(MARK)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let e = abort_from(61016, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn without_nft_or_without_cap_net_admin_the_error_says_so() {
    let lab = Lab::loopback_only(&[]);
    let (missing, denied) = lab.in_scanner(|| {
        let missing = RstGuard::install_using("/nonexistent/nft".as_ref(), 61000..=61015)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        // The real nft, run as nobody without capabilities (by its full
        // path: nft runs with an empty environment).
        let real = rstguard::NFT_DIRS
            .iter()
            .map(|d| std::path::Path::new(d).join("nft"))
            .find(|p| p.is_file())
            .expect("nft in a system directory");
        let dir = tempfile::tempdir().unwrap();
        let wrapper = dir.path().join("nft-unprivileged");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {} \"$@\"\n",
                real.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let denied = RstGuard::install_using(wrapper.as_os_str(), 61000..=61015)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        (missing, denied)
    });
    assert!(
        missing.contains("install the nftables package"),
        "{missing}"
    );
    assert!(denied.contains("CAP_NET_ADMIN"), "{denied}");
}

/// Run by `a_sigkilled_guard_is_cleaned_up_by_the_next_run` as a child
/// process: install a guard, say so, and hold it until killed.
#[test]
#[ignore = "helper: run as a child process by the SIGKILL test"]
fn helper_hold_a_guard_until_killed() {
    if std::env::var_os("SSW_RSTGUARD_HOLD").is_none() {
        return;
    }
    let g = RstGuard::install(61000..=61015).expect("install in child");
    // SSW_RSTGUARD_HOLD=keep: hand it to a keeper.
    let _held = if std::env::var_os("SSW_RSTGUARD_HOLD").is_some_and(|v| v == "keep") {
        (None, Some(g.keep()))
    } else {
        (Some(g), None)
    };
    println!("installed");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

/// Kills the child also when an assertion fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `helper_hold_a_guard_until_killed` in the lab's scanner namespace
/// (`hold`: SSW_RSTGUARD_HOLD) and return it once its table is installed.
fn spawn_holder(lab: &Lab, hold: &str) -> Killed {
    spawn_holder_via(lab, hold, &[])
}

/// [`spawn_holder`], the test binary started through `wrapper` (a command
/// line that ends with the program to run).
fn spawn_holder_via(lab: &Lab, hold: &str, wrapper: &[&str]) -> Killed {
    use std::io::BufRead;
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        None => lab.wrap_in_scanner(&Command::new(&exe)),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&exe);
            lab.wrap_in_scanner(&c)
        }
    };
    cmd.args([
        "--exact",
        "helper_hold_a_guard_until_killed",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SSW_RSTGUARD_HOLD", hold)
    .stdout(std::process::Stdio::piped());
    let mut child = Killed(cmd.spawn().unwrap());
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("installed") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child ended early");
    }
    child
}

#[test]
fn a_sigkilled_guard_is_cleaned_up_by_the_next_run() {
    let lab = Lab::loopback_only(&[]);
    let mut child = spawn_holder(&lab, "1");
    // `ip netns exec` execs the test binary: the child's pid is the guard's.
    let pid = child.0.id();
    let theirs = format!("table inet {}", rstguard::table_name(pid));
    lab.in_scanner(|| assert!(tables().contains(&theirs), "{:?}", tables()));
    // SIGKILL: no destructor runs, the table stays behind.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    lab.in_scanner(|| {
        assert!(tables().contains(&theirs), "{:?}", tables());
        // The next run removes it.
        let g = RstGuard::install(61000..=61015).expect("install");
        let t = tables();
        assert!(!t.contains(&theirs), "{t:?}");
        assert!(t.contains(&format!("table inet {}", g.table())));
    });
}

#[test]
fn a_kept_guard_is_removed_by_its_keeper_when_its_process_is_sigkilled() {
    let lab = Lab::loopback_only(&[]);
    let mut child = spawn_holder(&lab, "keep");
    let theirs = format!("table inet {}", rstguard::table_name(child.0.id()));
    // The keeper holds the delete command and has not run it yet.
    std::thread::sleep(Duration::from_millis(300));
    lab.in_scanner(|| assert!(tables().contains(&theirs), "{:?}", tables()));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let gone = lab.in_scanner(|| {
        (0..100).any(|_| {
            let gone = !tables().contains(&theirs);
            if !gone {
                std::thread::sleep(Duration::from_millis(50));
            }
            gone
        })
    });
    assert!(gone, "the keeper left {theirs}");
}

/// Two scans on one network, each pid 1 of a pid namespace of its own (as
/// containers on the host's network are): two tables, neither taken for
/// the other's nor removed as stale by it.
#[test]
fn guards_of_two_pid_namespaces_with_the_same_pid_do_not_clash() {
    let lab = Lab::loopback_only(&[]);
    let unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];
    let mut a = spawn_holder_via(&lab, "1", &unshare);
    let first = lab.in_scanner(tables);
    let mut b = spawn_holder_via(&lab, "1", &unshare);
    let both = lab.in_scanner(tables);
    let ours: Vec<&String> = both
        .iter()
        .filter(|t| t.starts_with("table inet synsweep_1_"))
        .collect();
    for k in [&mut a, &mut b] {
        k.0.kill().unwrap();
        k.0.wait().unwrap();
    }
    // Killed with their pid namespaces: the tables stay; remove them.
    lab.in_scanner(|| {
        for t in tables()
            .iter()
            .filter(|t| t.starts_with("table inet synsweep_"))
        {
            nft(&format!("delete {t}\n"));
        }
    });
    assert_eq!(ours.len(), 2, "{both:?}");
    assert!(
        first.contains(ours[0]) || first.contains(ours[1]),
        "{first:?} {both:?}"
    );
}
