//! RST suppression for service identification.
//!
//! synsweep completes TCP handshakes from a raw socket, behind the back of
//! its own kernel. The kernel sees the SYN-ACK (and later the service's
//! data) for a connection it never opened and answers with a RST, which
//! kills the connection before the service says anything. While identifying,
//! an nftables table of synsweep's own drops those RSTs:
//!
//! ```text
//! table inet synsweep_<pid>_<pidns> {
//!     comment "synsweep pid <pid> start <ticks>"
//!     chain out {
//!         type filter hook output priority filter; policy accept;
//!         meta mark != 0x53535750 tcp sport <first>-<last> tcp flags & rst == rst counter drop
//!     }
//! }
//! ```
//!
//! Only RSTs from the scanner's source ports are dropped, and never ones
//! carrying [`MARK`]: a raw IP socket with `SO_MARK` = [`MARK`] (loopback
//! scans) still closes its connections with RSTs of its own; frames sent on
//! AF_PACKET never pass the output hook anyway.
//!
//! [`RstGuard`] removes the table when dropped (normal exit, and Ctrl-C,
//! which ends the scan through the normal path). After a crash or SIGKILL the
//! table stays; the next [`RstGuard::install`] removes every table of this
//! pid namespace whose process is gone (or is another process that reused
//! the pid: the table's comment records the process's start time).
//!
//! The name carries the pid namespace (`<pidns>`, the inode of
//! `/proc/self/ns/pid`): processes of several pid namespaces may share one
//! network namespace (containers on the host's network, such as pods with
//! `hostNetwork`), each perhaps pid 1 of its own. Their tables never clash,
//! and a table of another pid namespace is never judged stale, since its
//! process cannot be seen from here. (`synsweep_<pid>`, the name older
//! versions used, is judged as this namespace's.)
//!
//! The work is done by the `nft` binary (package `nftables`), fed on stdin,
//! in the calling thread's network namespace. It needs CAP_NET_ADMIN: root
//! has it; a user whose synsweep holds it as a file capability
//! (`cap_net_raw,cap_net_admin+ep`) passes it to `nft` as an ambient
//! capability ([`super::privilege::pass_net_admin_to_children`]). So `nft`
//! is run by its full path from a system directory ([`NFT_DIRS`]), never
//! found through `PATH`, with an empty environment. Without it, or without
//! CAP_NET_ADMIN, [`RstGuard::install`] returns an error saying so.

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Packet mark exempting our own RSTs from the drop rule ("SSWP").
pub const MARK: u32 = 0x5353_5750;
/// Every table this module creates is named `PREFIX<pid>_<pidns>`.
pub const PREFIX: &str = "synsweep_";

/// The installed suppression; dropping it removes the table.
#[derive(Debug)]
pub struct RstGuard {
    table: String,
}

/// The table name for process `pid` of this process's pid namespace.
pub fn table_name(pid: u32) -> String {
    format!("{PREFIX}{pid}_{}", pid_ns())
}

/// This process's pid namespace: the inode of `/proc/self/ns/pid` (0 if
/// it cannot be read).
pub fn pid_ns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino())
}

/// The pid and pid namespace a table's name records (`None` as namespace
/// for an older version's `synsweep_<pid>`); `None` for a name that is not
/// one of ours.
fn parse_name(name: &str) -> Option<(u32, Option<u64>)> {
    let rest = name.strip_prefix(PREFIX)?;
    match rest.split_once('_') {
        Some((pid, ns)) => Some((pid.parse().ok()?, Some(ns.parse().ok()?))),
        None => Some((rest.parse().ok()?, None)),
    }
}

/// Start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), or None if there is no such process.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past
    // the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn comment(pid: u32, start: u64) -> String {
    format!("synsweep pid {pid} start {start}")
}

/// The root-owned directories searched for `nft`, in order.
pub const NFT_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The nft program used by default: `nft` in the first of [`NFT_DIRS`]
/// that has it (`/usr/sbin/nft` if none has: running it then fails as
/// missing).
fn default_nft() -> PathBuf {
    NFT_DIRS
        .iter()
        .map(|d| Path::new(d).join("nft"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nft"))
}

/// `program` with `args`, with an empty environment and, for a user
/// holding it as a file capability, CAP_NET_ADMIN (see the module docs).
fn spawn_nft(
    program: &OsStr,
    args: &[&str],
    cmd: impl FnOnce(&mut Command),
) -> std::io::Result<Child> {
    let mut c = Command::new(program);
    c.args(args).env_clear();
    cmd(&mut c);
    let _admin = super::privilege::pass_net_admin_to_children();
    c.spawn()
}

/// Run `nft` with `args`, `script` on stdin; stdout on success.
fn nft(args: &[&str], script: &str) -> Result<String> {
    nft_with(default_nft().as_os_str(), args, script)
}

fn nft_with(program: &OsStr, args: &[&str], script: &str) -> Result<String> {
    let mut child = spawn_nft(program, args, |c| {
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    })
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::runtime(
                "cannot suppress the kernel's RSTs for identification: the nft command is \
                     missing (install the nftables package), or use --no-identify",
            )
        } else {
            Error::runtime(format!("cannot run nft: {e}"))
        }
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::runtime(format!("nft: writing the ruleset: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::runtime(format!("nft: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed");
    if err.contains("Operation not permitted") || err.contains("Permission denied") {
        Err(Error::runtime(
            "cannot suppress the kernel's RSTs for identification: nftables needs \
             CAP_NET_ADMIN (run as root or grant the capability), or use --no-identify",
        ))
    } else {
        Err(Error::runtime(format!("nft: {first}")))
    }
}

/// Names of the `inet` tables in the current network namespace.
fn inet_tables(program: &OsStr) -> Result<Vec<String>> {
    let out = nft_with(program, &["list", "tables"], "")?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .map(|n| n.trim().to_string())
        .collect())
}

/// Whether the table of `pid` belongs to a process that is gone: no such
/// pid, or a pid whose start time differs from the one the table recorded.
fn is_stale(program: &OsStr, table: &str, pid: u32) -> bool {
    let Some(now) = start_ticks(pid) else {
        return true;
    };
    let recorded = nft_with(program, &["list", "table", "inet", table], "")
        .ok()
        .and_then(|s| {
            let at = s.find("synsweep pid ")?;
            let words: Vec<&str> = s[at..]
                .split(|c: char| c == '"' || c.is_whitespace())
                .collect();
            // ["synsweep", "pid", P, "start", T, ...]
            (words.get(2)? == &pid.to_string() && words.get(3)? == &"start")
                .then(|| words.get(4)?.parse::<u64>().ok())?
        });
    recorded.is_some_and(|t| t != now)
}

/// Remove the tables of synsweep processes that no longer run (crashed or
/// killed); returns the names removed.
pub fn remove_stale() -> Result<Vec<String>> {
    remove_stale_with(default_nft().as_os_str())
}

fn remove_stale_with(program: &OsStr) -> Result<Vec<String>> {
    let me = std::process::id();
    let ns = pid_ns();
    let mut removed = Vec::new();
    for t in inet_tables(program)? {
        let Some((pid, their_ns)) = parse_name(&t) else {
            continue;
        };
        if their_ns.is_some_and(|n| n != ns) {
            continue; // another pid namespace's: not ours to judge
        }
        if pid != me && is_stale(program, &t, pid) {
            nft_with(program, &["-f", "-"], &format!("delete table inet {t}\n"))?;
            removed.push(t);
        }
    }
    Ok(removed)
}

impl RstGuard {
    /// Remove stale tables, then install this process's table dropping the
    /// kernel's RSTs from `sports` (synsweep's source ports). Replaces a
    /// table this process installed before. One guard per process and
    /// network namespace.
    pub fn install(sports: RangeInclusive<u16>) -> Result<RstGuard> {
        Self::install_using(default_nft().as_os_str(), sports)
    }

    /// [`RstGuard::install`] with another `nft` program (a path, or a
    /// wrapper); the guard's removal uses the default `nft`.
    pub fn install_using(program: &OsStr, sports: RangeInclusive<u16>) -> Result<RstGuard> {
        if sports.is_empty() {
            return Err(Error::input("RST suppression: empty source port range"));
        }
        remove_stale_with(program)?;
        let pid = std::process::id();
        let table = table_name(pid);
        let start = start_ticks(pid).unwrap_or(0);
        let script = format!(
            "add table inet {table}\n\
             delete table inet {table}\n\
             table inet {table} {{\n\
             \tcomment \"{comment}\"\n\
             \tchain out {{\n\
             \t\ttype filter hook output priority filter; policy accept;\n\
             \t\tmeta mark != {MARK:#x} tcp sport {lo}-{hi} tcp flags & rst == rst counter drop\n\
             \t}}\n\
             }}\n",
            comment = comment(pid, start),
            lo = sports.start(),
            hi = sports.end(),
        );
        nft_with(program, &["-f", "-"], &script)?;
        Ok(RstGuard { table })
    }

    /// The nftables table (family `inet`) this guard installed.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How many RSTs the rule has dropped so far.
    pub fn dropped(&self) -> Result<u64> {
        let s = nft(&["list", "table", "inet", &self.table], "")?;
        let at = s
            .find("counter packets ")
            .ok_or_else(|| Error::runtime("nft: no counter in the RST guard"))?;
        s[at + 16..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::runtime("nft: unreadable counter"))
    }
}

/// A guard handed to a keeper: a second `nft -f -`, started while we still
/// have CAP_NET_ADMIN, that holds the command deleting the table on its
/// stdin. nft reads its whole input before it runs anything, so the table
/// is deleted when our end of the pipe closes: when this process ends in
/// any way, SIGKILL included. The keeper needs none of the privileges we
/// drop after opening the sockets (it holds CAP_NET_ADMIN itself). Dropping
/// the [`Keeper`] closes the pipe and waits for the table to be gone. The
/// keeper has a process group of its own, so a Ctrl-C on the terminal
/// reaches only us.
#[derive(Debug)]
pub struct Keeper {
    child: Option<Child>,
    /// When no keeper could start: the guard itself (removes the table when
    /// dropped, if we still may).
    guard: Option<RstGuard>,
    table: String,
}

impl RstGuard {
    /// Hand the table's removal to a keeper process (see [`Keeper`]).
    pub fn keep(self) -> Keeper {
        use std::os::unix::process::CommandExt;
        let table = self.table.clone();
        // Pipes, not /dev/null, for its output: a file system without /dev
        // (a chroot) must not cost the keeper. Nothing reads them; nft
        // writes at most an error line.
        let child = spawn_nft(default_nft().as_os_str(), &["-f", "-"], |c| {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
        })
        .and_then(|mut c| {
            let script = format!("delete table inet {table}\n");
            let written = c.stdin.as_mut().map(|i| i.write_all(script.as_bytes()));
            match written {
                Some(Ok(())) => Ok(c),
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    Err(std::io::Error::other("keeper's stdin"))
                }
            }
        });
        match child {
            Ok(c) => {
                std::mem::forget(self);
                Keeper {
                    child: Some(c),
                    guard: None,
                    table,
                }
            }
            Err(_) => Keeper {
                child: None,
                guard: Some(self),
                table,
            },
        }
    }
}

impl Keeper {
    /// The nftables table (family `inet`) kept.
    pub fn table(&self) -> &str {
        &self.table
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            drop(c.stdin.take());
            let _ = c.wait();
        }
        drop(self.guard.take());
    }
}

impl Drop for RstGuard {
    fn drop(&mut self) {
        // Nothing useful to do on failure here: the next run removes it.
        let _ = nft(&["-f", "-"], &format!("delete table inet {}\n", self.table));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read_and_names_are_stable() {
        assert!(start_ticks(std::process::id()).is_some());
        assert_eq!(start_ticks(u32::MAX), None);
        assert_ne!(pid_ns(), 0);
        assert_eq!(table_name(42), format!("synsweep_42_{}", pid_ns()));
        assert_eq!(comment(42, 7), "synsweep pid 42 start 7");
    }

    #[test]
    fn names_parse_with_and_without_a_pid_namespace() {
        assert_eq!(parse_name(&table_name(42)), Some((42, Some(pid_ns()))));
        assert_eq!(
            parse_name("synsweep_42_4026531836"),
            Some((42, Some(4026531836)))
        );
        assert_eq!(parse_name("synsweep_42"), Some((42, None)));
        for other in [
            "synsweep_lab",
            "synsweep_42_x",
            "synsweep_",
            "other_42",
            "synsweep_-1",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
