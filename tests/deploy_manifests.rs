//! The deployment files in deploy/: the Kubernetes Indexed Job is a valid
//! batch/v1 Job whose pods each run one shard, and the Slurm array script runs
//! one shard per array task. Their synsweep command lines are parsed by
//! synsweep's own parser. Nothing here sends a packet: the Slurm script runs
//! against a stand-in `synsweep` that only records its arguments.

use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use synsweep::cli::{Cli, Command as Sub, ScanArgs};
use synsweep::config::{scan_config, shard_from_env};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every YAML document of a file.
fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{path}: bad YAML: {e}"))
        })
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s:?}"))
                .to_string()
        })
        .collect()
}

/// Parse `synsweep <args>` with synsweep's own command line; the scan's
/// arguments.
fn parse_scan(args: &[String]) -> ScanArgs {
    let cli = <Cli as clap::Parser>::try_parse_from(
        std::iter::once("synsweep".to_string()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| panic!("synsweep {args:?}: {e}"));
    match cli.command {
        Sub::Scan(a) => a,
        other => panic!("not a scan: {other:?}"),
    }
}

/// The shard a scan's arguments select when the scheduler variable `var`
/// holds `index`, checked through the whole configuration (targets, ports,
/// rate, seed) as synsweep builds it.
fn shard_of(a: &ScanArgs, var: &str, index: u64) -> (u64, u64) {
    let spec = a.shard_from_env.as_deref().expect("--shard-from-env");
    let (k, n) = shard_from_env(spec, |v| (v == var).then(|| index.to_string())).unwrap();
    // The pod's result volume may not exist here: let the outputs point
    // into a directory that does, under the same file names.
    let dir = tempfile::tempdir().unwrap();
    let fixed = ScanArgs {
        shard: Some(format!("{}/{n}", k + 1)),
        shard_from_env: None,
        output: a
            .output
            .iter()
            .map(|o| {
                let name = std::path::Path::new(o)
                    .file_name()
                    .expect("an output file name");
                dir.path().join(name).display().to_string()
            })
            .collect(),
        ..a.clone()
    };
    let cfg = scan_config(&fixed, String::new())
        .unwrap_or_else(|e| panic!("the manifest's scan is refused: {e}"));
    assert_eq!(cfg.shard, (k, n));
    (k, n)
}

#[test]
fn kubernetes_manifest_is_an_indexed_batch_v1_job_of_one_shard_per_index() {
    let docs = documents("deploy/kubernetes/synsweep-job.yaml");
    let job = of_kind(&docs, "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().expect("completions");
    assert!(completions > 1);
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert!(
        ["OnFailure", "Never"].contains(&pod["restartPolicy"].as_str().unwrap()),
        "a Job's pods restart OnFailure or Never"
    );
    // A paused shard (exit 75) is replaced, not counted as a failure.
    let rules = spec["podFailurePolicy"]["rules"].as_sequence().unwrap();
    assert!(
        rules.iter().any(|r| r["action"] == "Ignore"
            && r["onExitCodes"]["operator"] == "In"
            && r["onExitCodes"]["values"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|v| v.as_i64() == Some(75))),
        "{rules:?}"
    );
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let caps = &c["securityContext"]["capabilities"];
    // NET_RAW for the probes, NET_ADMIN for identification's RST guard:
    // those two only.
    let mut added = strings(&caps["add"]);
    added.sort();
    assert_eq!(added, ["NET_ADMIN", "NET_RAW"]);
    assert_eq!(strings(&caps["drop"]), ["ALL"]);
    // A non-root user (the image's), who gets both from the binary's file
    // capabilities: that needs privilege escalation allowed (no
    // no_new_privs), bounded by the two capabilities left in the bounding
    // set.
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert!(sc["runAsUser"].as_u64().expect("runAsUser") > 0);
    assert_eq!(sc["allowPrivilegeEscalation"], true);

    // synsweep scan ... --seed S --shard-from-env JOB_COMPLETION_INDEX/<completions>
    assert_eq!(strings(&c["command"]), ["synsweep"]);
    let args = strings(&c["args"]);
    let want = format!("JOB_COMPLETION_INDEX/{completions}");
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--shard-from-env" && w[1] == want),
        "{args:?}"
    );
    assert!(args.iter().any(|a| a == "--seed"), "{args:?}");
    // `$(JOB_COMPLETION_INDEX)` expands only for variables the container
    // declares: it does, from the Job's completion-index annotation.
    let env = c["env"].as_sequence().unwrap();
    let var = env
        .iter()
        .find(|e| e["name"] == "JOB_COMPLETION_INDEX")
        .expect("JOB_COMPLETION_INDEX in env");
    assert_eq!(
        var["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );

    // One findings file per shard on the results volume, a PVC.
    let o = args.iter().position(|a| a == "-o").expect("-o");
    assert_eq!(args[o + 1], "/results/shard-$(JOB_COMPLETION_INDEX).ndjson");
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    let results = mounts
        .iter()
        .find(|m| m["mountPath"] == "/results")
        .expect("/results mounted");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == results["name"])
        .expect("the results volume");
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("a PVC");
    let pvc = of_kind(&docs, "PersistentVolumeClaim");
    assert_eq!(pvc["apiVersion"], "v1");
    assert_eq!(pvc["metadata"]["name"], claim);
    assert!(strings(&pvc["spec"]["accessModes"]).contains(&"ReadWriteMany".to_string()));
    // Each shard keeps its state (paused.json, done.json) in a directory of
    // its own on the results volume, so a retried pod resumes it.
    let sd = args
        .iter()
        .position(|a| a == "--state-dir")
        .expect("--state-dir");
    assert_eq!(args[sd + 1], "/results/state/shard-$(JOB_COMPLETION_INDEX)");

    // synsweep itself takes the command line, and index i is shard i+1.
    let scan = parse_scan(&args);
    assert!(scan.seed.is_some());
    for i in 0..completions {
        assert_eq!(shard_of(&scan, "JOB_COMPLETION_INDEX", i), (i, completions));
    }
    // The placeholder target is a documentation range, never a real network.
    assert_eq!(scan.targets, ["198.51.100.0/24"]);

    // The collect pod mounts the same claim.
    let collect = documents("deploy/kubernetes/synsweep-collect.yaml");
    let p = of_kind(&collect, "Pod");
    assert_eq!(
        p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        claim
    );
}

/// `SHARDS=N` and `#SBATCH --array=0-M` of the Slurm script.
fn slurm_shards(text: &str) -> (u64, u64, u64) {
    let array = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("#SBATCH --array=");
    let (lo, hi) = array.trim().split_once('-').expect("--array=0-M");
    let shards = text
        .lines()
        .find_map(|l| l.strip_prefix("SHARDS="))
        .expect("SHARDS=");
    (
        lo.parse().unwrap(),
        hi.parse().unwrap(),
        shards.trim().parse().unwrap(),
    )
}

#[test]
fn slurm_array_runs_one_shard_per_task_and_resumes_a_paused_one() {
    let path = repo("deploy/slurm/synsweep-array.sbatch");
    let text = std::fs::read_to_string(&path).unwrap();
    let (lo, hi, shards) = slurm_shards(&text);
    assert_eq!(lo, 0, "array tasks count from 0, as shard indices do");
    assert_eq!(hi + 1, shards, "--array=0-{hi} for SHARDS={shards}");
    assert!(text.contains("SLURM_ARRAY_TASK_ID"));
    // The capabilities to grant: raw sockets, and the RST guard that
    // identification needs.
    assert!(
        text.contains("setcap cap_net_raw,cap_net_admin+ep"),
        "the setcap line grants both capabilities"
    );
    // Every #SBATCH line comes before the first command (sbatch stops
    // reading them there).
    let first_cmd = text
        .lines()
        .position(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap();
    assert!(
        text.lines()
            .skip(first_cmd)
            .all(|l| !l.starts_with("#SBATCH"))
    );
    assert!(
        Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );

    // Run it as array task 2 against a stand-in synsweep that records its
    // arguments and exits with $STUB_RC (nothing is sent).
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("calls");
    let stub = bin.join("synsweep");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\n{{ for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo --; }} >> '{}'\nexit \"$STUB_RC\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let results = dir.path().join("results");
    let run = |rc: i32| {
        let out = Command::new("bash")
            .arg(&path)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env("SLURM_ARRAY_TASK_ID", "2")
            .env("RESULTS", &results)
            .env("STUB_RC", rc.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(rc),
            "the task's exit status is synsweep's: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = std::fs::read_to_string(&log).unwrap();
        let last: Vec<String> = calls
            .trim_end()
            .trim_end_matches("--")
            .rsplit("\n--\n")
            .next()
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        (String::from_utf8_lossy(&out.stdout).into_owned(), last)
    };
    let state = results.join("state/shard-2");
    let (said, args) = run(0);
    assert_eq!(
        said.trim(),
        format!(
            "synsweep task 2 (shard 3/{shards}): finished; findings in {}",
            results.join("shard-2.ndjson").display()
        )
    );
    let want = format!("SLURM_ARRAY_TASK_ID/{shards}");
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--shard-from-env" && w[1] == want),
        "{args:?}"
    );
    let o = args.iter().position(|a| a == "-o").expect("-o");
    assert_eq!(
        Path::new(&args[o + 1]),
        results.join("shard-2.ndjson"),
        "{args:?}"
    );
    let sd = args
        .iter()
        .position(|a| a == "--state-dir")
        .expect("--state-dir");
    assert_eq!(
        Path::new(&args[sd + 1]),
        state,
        "one state directory per shard"
    );
    let scan = parse_scan(&args);
    assert!(scan.seed.is_some());
    assert_eq!(scan.targets, ["198.51.100.0/24"]);
    for i in 0..shards {
        assert_eq!(shard_of(&scan, "SLURM_ARRAY_TASK_ID", i), (i, shards));
    }

    // Paused (exit 75): the task says so and where the state is; the next
    // submission runs the very same command line (synsweep resumes).
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("paused.json"), "{}").unwrap();
    let (said, again) = run(75);
    assert!(said.contains("synsweep task 2 (shard 3/"), "{said}");
    assert!(
        said.contains(&format!(
            "PAUSED, state in {}",
            state.join("paused.json").display()
        )),
        "{said}"
    );
    assert_eq!(again, args, "the same command line for every run");
    std::fs::remove_file(state.join("paused.json")).unwrap();
    std::fs::write(state.join("done.json"), "{}").unwrap();
    let (said, _) = run(0);
    assert!(said.contains("already finished, nothing sent"), "{said}");
    let (said, _) = run(1);
    assert!(said.contains("FAILED (exit 1)"), "{said}");
}

/// The manifests against the official Kubernetes schemas, in strict mode
/// (unknown fields refused), for every version `kubernetes-validate` (PyPI)
/// ships. The tool must be installed (scripts/test.sh does it): this test
/// fails without it.
#[test]
fn kubernetes_manifests_pass_kubernetes_validate_strict_for_every_shipped_version() {
    let tool = std::env::var("KUBERNETES_VALIDATE").unwrap_or_else(|_| {
        let venv = repo("target/tools/venv/bin/kubernetes-validate");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "kubernetes-validate".into()
        }
    });
    let python = Path::new(&tool).with_file_name("python3");
    let python = if python.exists() {
        python
    } else {
        PathBuf::from("python3")
    };
    // The versions it ships: the schema directories in its package.
    let list = Command::new(&python)
        .args([
            "-c",
            "import kubernetes_validate, os; d = os.path.join(os.path.dirname(kubernetes_validate.__file__), 'kubernetes-json-schema'); print('\\n'.join(sorted(x[1:-len('-local-strict')] for x in os.listdir(d) if x.endswith('-local-strict'))))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        list.status.success(),
        "kubernetes-validate is not installed (scripts/test.sh installs it): {}",
        String::from_utf8_lossy(&list.stderr)
    );
    let versions: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(versions.len() >= 10, "{versions:?}");
    let files = [
        repo("deploy/kubernetes/synsweep-job.yaml"),
        repo("deploy/kubernetes/synsweep-collect.yaml"),
    ];
    for v in &versions {
        let out = Command::new(&tool)
            .args(["--strict", "--no-warn", "-k", v])
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "Kubernetes {v}:\n{text}");
        // Three resources: the claim, the Job, the collect pod.
        assert_eq!(text.matches(" passed for resource ").count(), 3, "{text}");
    }
}
