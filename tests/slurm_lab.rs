//! The project's Slurm script on a real single-node Slurm cluster in a lab:
//! Debian's munged, slurmctld and slurmd run inside the lab's scanner
//! namespace (their only link leads to the target namespace), jobs are
//! submitted by an unprivileged user (nobody) and run a copy of synsweep that
//! holds CAP_NET_RAW as a file capability, as on a real cluster.
//!
//! The script (`deploy/slurm/synsweep-array.sbatch`) runs with only its
//! settings edited (shards, seed, targets, ports, rate, the array range):
//!
//! 1. submitted, one task is paused by a signal (what Slurm sends before the
//!    time limit) and another is cancelled (scancel); the third finishes. The
//!    script's output says which tasks paused;
//! 2. submitted again, unchanged: the paused tasks resume, the finished one
//!    does nothing; every task ends finished and the target has counted
//!    exactly one SYN per pair of the space (none sent twice);
//! 3. submitted a third time: every task says it already finished and the
//!    target counts no new SYN;
//! 4. the merged shards equal an unsharded scan and the lab's ground truth.
//!
//! Everything is stopped at the end, also on failure (jobs cancelled, daemons
//! killed by their pid, then the lab's namespaces removed).

mod common;

use common::Lab;
use common::findings::{pairs, records};
use common::run::{check, synsweep};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const RANGE: &str = "198.19.0.0/21";
const PORTS: &str = "22,80,443";
const PORT_LIST: [u16; 3] = [22, 80, 443];
const SEED: &str = "4242";
const SHARDS: u64 = 3;
/// 2048 addresses x 3 ports.
const SPACE: u64 = 2048 * 3;
/// Per task: 2048 probes take about ten seconds, time to signal it midway.
const RATE: &str = "200";
/// The submitting user (jobs run as this user).
const USER_ID: u32 = 65534;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn last_lines(path: &Path, n: usize) -> String {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A one-node Slurm cluster (munged, slurmctld, slurmd) in the lab's
/// scanner namespace, configured and logging under `dir`.
struct Cluster<'a> {
    lab: &'a Lab,
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

impl<'a> Cluster<'a> {
    fn start(lab: &'a Lab, dir: &Path) -> Cluster<'a> {
        let dir = dir.to_path_buf();
        for d in ["munge", "spool", "state", "log"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // The submitting user reaches the munge socket and the config.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join("munge"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let key = dir.join("munge/munge.key");
        let mut secret = [0u8; 1024];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut secret))
            .unwrap();
        std::fs::write(&key, secret).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let socket = dir.join("munge/munge.sock");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .to_string();
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=lab
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
KillWait=30
MinJobAge=300
# Six CPUs: the script's three tasks (--cpus-per-task=2) run at once.
NodeName=labnode NodeAddr=127.0.0.1 CPUs=6 State=UNKNOWN
PartitionName=lab Nodes=labnode Default=YES MaxTime=INFINITE State=UP
",
                socket = socket.display()
            ),
        )
        .unwrap();
        let mut c = Cluster {
            lab,
            dir: dir.clone(),
            conf: conf.clone(),
            daemons: Vec::new(),
        };
        let mut munged = Command::new("munged");
        munged
            .args(["--foreground", "--force"])
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={d}/munge/munged.pid"))
            .arg(format!("--log-file={d}/munge/munged.log"))
            .arg(format!("--seed-file={d}/munge/seed"));
        c.spawn("munged", &munged);
        c.wait_for("the munge socket", || socket.exists());
        let mut ctld = c.slurm_cmd("slurmctld");
        ctld.args(["-D", "-f"]).arg(&conf);
        c.spawn("slurmctld", &ctld);
        // `ip netns exec` gives the namespace a /sys of its own, without the
        // cgroup hierarchies slurmd looks for: mount them in its private
        // mount namespace (the same hierarchies as the host's: cgroup v2 if
        // the host has only that, else the v1 ones slurmd uses).
        let host_cgroup = std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1) == Some(&"/sys/fs/cgroup")).then(|| f[2].to_string())
            })
            .expect("no cgroup file system on /sys/fs/cgroup (slurmd needs one)");
        let mounts = if host_cgroup == "cgroup2" {
            "mount -t cgroup2 cgroup2 /sys/fs/cgroup"
        } else {
            "mount -t tmpfs -o mode=755 cgroup_root /sys/fs/cgroup
            mkdir /sys/fs/cgroup/systemd
            mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
            for c in cpuset memory devices freezer; do
                mkdir /sys/fs/cgroup/$c
                mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
            done"
        };
        let mut slurmd = Command::new("sh");
        slurmd
            .arg("-c")
            .arg(format!(
                "set -e\n{mounts}\nexec slurmd -D -N labnode -f \"$0\""
            ))
            .arg(&conf)
            .env("SLURM_CONF", &conf);
        c.spawn("slurmd", &slurmd);
        c.wait_for("node labnode idle", || {
            let out = c.run(
                c.slurm_cmd("sinfo")
                    .args(["-h", "-n", "labnode", "-o", "%t"]),
            );
            String::from_utf8_lossy(&out.stdout).trim() == "idle"
        });
        c
    }

    /// A Slurm command for this cluster (SLURM_CONF set).
    fn slurm_cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SLURM_CONF", &self.conf);
        cmd
    }

    fn spawn(&mut self, name: &'static str, cmd: &Command) {
        let child = self
            .lab
            .wrap_in_scanner(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join(format!("log/{name}.stderr"))).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name, child));
    }

    /// Run a command in the scanner namespace (where slurmctld listens).
    fn run(&self, cmd: &mut Command) -> Output {
        self.lab.run_in_scanner(cmd)
    }

    fn logs(&self) -> String {
        ["log/slurmctld.log", "log/slurmd.log", "munge/munged.log"]
            .iter()
            .chain(
                [
                    "log/munged.stderr",
                    "log/slurmctld.stderr",
                    "log/slurmd.stderr",
                ]
                .iter(),
            )
            .map(|f| format!("--- {f}\n{}", last_lines(&self.dir.join(f), 15)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > Duration::from_secs(60) {
                panic!("slurm lab: no {what} after 60 s\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `sbatch --parsable SCRIPT` as the unprivileged user, from `workdir`,
    /// with `path_dir` first on PATH: the array job's id.
    fn submit(&self, script: &Path, workdir: &Path, path_dir: &Path) -> String {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={USER_ID}"),
            &format!("--regid={USER_ID}"),
            "--clear-groups",
            "sbatch",
            "--parsable",
        ])
        .arg(script)
        .current_dir(workdir)
        .env("SLURM_CONF", &self.conf)
        .env(
            "PATH",
            format!("{}:{}", path_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("HOME", workdir);
        let out = self.run(&mut cmd);
        assert!(
            out.status.success(),
            "sbatch: {}\n{}",
            text(&out),
            self.logs()
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(id.chars().all(|c| c.is_ascii_digit()), "job id {id:?}");
        id
    }

    /// Wait until no task of job `id` is pending or running.
    fn wait_job(&self, id: &str) {
        let start = Instant::now();
        loop {
            let out = self.run(
                self.slurm_cmd("squeue")
                    .args(["-h", "-j", id, "-o", "%i %t"]),
            );
            if out.status.success() && out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
                return;
            }
            if start.elapsed() > Duration::from_secs(90) {
                panic!(
                    "slurm lab: job {id} still queued after 90 s: {}\n{}",
                    text(&out),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn scancel(&self, args: &[&str]) {
        let out = self.run(self.slurm_cmd("scancel").args(args));
        assert!(out.status.success(), "scancel {args:?}: {}", text(&out));
    }
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        // Cancel whatever still runs (a failed test), give the tasks time to
        // stop, then stop the daemons we started, by their pid.
        let _ = self
            .lab
            .wrap_in_scanner(self.slurm_cmd("scancel").args(["--partition=lab"]))
            .output();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            match self
                .lab
                .wrap_in_scanner(self.slurm_cmd("squeue").args(["-h", "-o", "%i"]))
                .output()
            {
                Ok(o) if o.status.success() && !o.stdout.is_empty() => {
                    std::thread::sleep(Duration::from_millis(300))
                }
                _ => break,
            }
        }
        for (name, child) in self.daemons.iter_mut().rev() {
            // SAFETY: plain kill(2) of a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let start = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if start.elapsed() > Duration::from_secs(10) => {
                        eprintln!("slurm lab: {name} ignored SIGTERM, killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

/// The project's script with only its settings edited.
fn edited_script(to: &Path) {
    let original = std::fs::read_to_string(repo("deploy/slurm/synsweep-array.sbatch")).unwrap();
    let mut edited = 0;
    let text: Vec<String> = original
        .lines()
        .map(|l| {
            let new = if l.starts_with("#SBATCH --array=") {
                format!("#SBATCH --array=0-{}", SHARDS - 1)
            } else if l.starts_with("SHARDS=") {
                format!("SHARDS={SHARDS}")
            } else if l.starts_with("SEED=") {
                format!("SEED={SEED}")
            } else if l.starts_with("TARGETS=") {
                format!("TARGETS=({RANGE})")
            } else if l.starts_with("PORTS=") {
                format!("PORTS=\"{PORTS}\"")
            } else if l.starts_with("RATE=") {
                format!("RATE={RATE}")
            } else {
                return l.to_string();
            };
            edited += 1;
            new
        })
        .collect();
    assert_eq!(edited, 6, "the script's settings lines changed");
    std::fs::write(to, text.join("\n") + "\n").unwrap();
}

/// The script's report line of each task, from the logs of job `id`.
fn task_lines(workdir: &Path, id: &str) -> Vec<String> {
    (0..SHARDS)
        .map(|t| {
            let log = workdir.join(format!("synsweep-{id}_{t}.log"));
            let text =
                std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
            text.lines()
                .rfind(|l| l.starts_with(&format!("synsweep task {t} ")))
                .unwrap_or_else(|| panic!("task {t} reported nothing:\n{text}"))
                .to_string()
        })
        .collect()
}

type Pairs = BTreeSet<(Ipv4Addr, u16)>;

#[test]
fn slurm_array_pauses_resumes_and_skips_finished_shards_with_no_probe_sent_twice() {
    // Every host alive, 22 and 80 open, 443 closed: every probe is answered,
    // so no retry round sends anything and the SYN count is exact.
    let lab = Lab::builder().listen(&[22, 80]).build();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = Cluster::start(&lab, &tmp.path().join("slurm"));

    // synsweep as a cluster installs it: a copy on a local disk (not
    // nosuid), with CAP_NET_RAW as a file capability, run by user nobody.
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_synsweep"), bin.join("synsweep")).unwrap();
    let out = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(bin.join("synsweep"))
        .output()
        .expect("setcap (Debian package libcap2-bin)");
    assert!(out.status.success(), "setcap: {}", text(&out));

    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(USER_ID), Some(USER_ID)).unwrap();
    let script = work.join("synsweep-array.sbatch");
    edited_script(&script);
    let results = work.join("results");
    let state = |t: u64| results.join(format!("state/shard-{t}"));
    let findings = |t: u64| results.join(format!("shard-{t}.ndjson"));
    let lines_in = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };

    // 1. Submit; once tasks 0 and 1 have found something, signal task 0 as
    //    Slurm does before the time limit (--signal=B:USR1 to the batch
    //    shell) and cancel task 1.
    let job1 = cluster.submit(&script, &work, &bin);
    cluster.wait_for("findings from tasks 0 and 1", || {
        lines_in(&findings(0)) >= 50 && lines_in(&findings(1)) >= 50
    });
    cluster.scancel(&["--batch", "--signal=USR1", &format!("{job1}_0")]);
    cluster.scancel(&[&format!("{job1}_1")]);
    cluster.wait_job(&job1);
    let said = task_lines(&work, &job1);
    let paused = |t: u64| {
        format!(
            "synsweep task {t} (shard {}/{SHARDS}): PAUSED, state in {}/paused.json; submit this script again to resume it",
            t + 1,
            state(t).display()
        )
    };
    assert_eq!(said[0], paused(0), "{said:?}");
    assert_eq!(said[1], paused(1), "{said:?}");
    assert_eq!(
        said[2],
        format!(
            "synsweep task 2 (shard 3/{SHARDS}): finished; findings in {}",
            findings(2).display()
        )
    );
    // synsweep's own line (printed despite the script's --quiet).
    let log0 = std::fs::read_to_string(work.join(format!("synsweep-{job1}_0.log"))).unwrap();
    assert!(
        log0.contains(&format!(
            "synsweep: paused, state saved in {}/paused.json",
            state(0).display()
        )),
        "{log0}"
    );
    for t in [0, 1] {
        assert!(state(t).join("paused.json").is_file());
        assert!(!state(t).join("done.json").exists());
    }
    assert!(state(2).join("done.json").is_file());
    let first = lab.counters().syn_in;
    assert!(
        first < SPACE,
        "the paused tasks stopped early: {first} SYNs"
    );

    // 2. The same script again: the paused tasks resume, the finished one
    //    sends nothing, and the space has been probed exactly once.
    let job2 = cluster.submit(&script, &work, &bin);
    cluster.wait_job(&job2);
    let said = task_lines(&work, &job2);
    for t in [0, 1] {
        assert_eq!(
            said[t as usize],
            format!(
                "synsweep task {t} (shard {}/{SHARDS}): resumed and finished; findings in {}",
                t + 1,
                findings(t).display()
            )
        );
    }
    assert_eq!(
        said[2],
        format!(
            "synsweep task 2 (shard 3/{SHARDS}): already finished, nothing sent; findings in {}",
            findings(2).display()
        )
    );
    let c = lab.counters();
    assert_eq!(c.syn_in, SPACE, "one SYN per pair, none twice: {c:?}");

    // Every shard's done.json: its probes add up to the space, its findings
    // are the lines of its findings file.
    let mut probes = 0;
    for t in 0..SHARDS {
        let done: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state(t).join("done.json")).unwrap())
                .unwrap();
        assert_eq!(done["shard"], serde_json::json!([t, SHARDS]));
        assert_eq!(done["seed"].as_u64(), Some(SEED.parse().unwrap()));
        assert_eq!(
            done["findings"].as_u64(),
            Some(lines_in(&findings(t)) as u64)
        );
        assert!(!state(t).join("paused.json").exists());
        probes += done["probes"].as_u64().unwrap();
    }
    assert_eq!(probes, SPACE);

    // 3. Once more: every task says it already finished; nothing is sent.
    let job3 = cluster.submit(&script, &work, &bin);
    cluster.wait_job(&job3);
    for (t, line) in task_lines(&work, &job3).iter().enumerate() {
        assert!(
            line.starts_with(&format!(
                "synsweep task {t} (shard {}/{SHARDS}): already finished, nothing sent",
                t + 1
            )),
            "{line}"
        );
    }
    assert_eq!(
        lab.counters().syn_in,
        SPACE,
        "a finished sweep sends nothing"
    );

    // 4. The merged shards equal one unsharded scan and the ground truth.
    let merged = tmp.path().join("all.ndjson");
    let files: Vec<PathBuf> = (0..SHARDS).map(findings).collect();
    check(
        &synsweep()
            .arg("merge")
            .args(&files)
            .arg("-o")
            .arg(&merged)
            .output()
            .unwrap(),
    );
    let whole = tmp.path().join("whole.ndjson");
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                RANGE,
                "-p",
                PORTS,
                "--seed",
                SEED,
                "--retries",
                "1",
                "--rate",
                "5000",
                "-q",
                "-o",
            ])
            .arg(&whole)
            .current_dir(tmp.path()),
    );
    check(&out);
    let m: Pairs = pairs(&records(&merged), "open");
    let w: Pairs = pairs(&records(&whole), "open");
    assert_eq!(records(&merged).len(), m.len(), "a pair reported twice");
    assert_eq!(m, w, "merged shards vs one unsharded scan");
    assert_eq!(m, lab.ground_truth_open(&PORT_LIST, RANGE));
    drop(cluster);
}
