//! The container image: `scripts/container_build.sh --image` assembles the
//! run-time root file system (the steps of the Containerfile's build stage)
//! and builds the Containerfile with Debian's buildah, in a container storage
//! of the test's own (vfs driver, removed at the end). The image's own
//! binary, run from the image's file system with chroot as the image's user
//! (10001) with the capabilities the image gives it, prints its version and
//! scans a lab: it finds exactly the lab's open ports and identifies a real
//! sshd (the image's own `nft` installs the RST guard; no table is left).
//!
//! (`podman run` cannot start containers on a machine whose root lacks
//! CAP_SYS_RESOURCE, as the test machine's does: crun's setrlimit is refused.
//! chroot into the image's file system runs the same files.)

mod common;

use common::Lab;
use common::findings::pairs;
use common::sshd::{guard_tables, start_sshd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IMAGE: &str = "localhost/synsweep-test:lab";

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

/// A container storage of the test's own; the image and its working
/// container are removed on drop.
struct Storage {
    conf: PathBuf,
    container: Option<String>,
}

impl Storage {
    fn new(dir: &Path) -> Storage {
        let conf = dir.join("storage.conf");
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.join("graph").display(),
                dir.join("run").display()
            ),
        )
        .unwrap();
        Storage {
            conf,
            container: None,
        }
    }

    fn buildah(&self, args: &[&str]) -> String {
        let out = Command::new("buildah")
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", &self.conf)
            .output()
            .expect("buildah (Debian package buildah)");
        assert!(out.status.success(), "buildah {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            let _ = Command::new("buildah")
                .args(args)
                .env("CONTAINERS_STORAGE_CONF", &self.conf)
                .output();
        };
        if let Some(c) = self.container.take() {
            run(&["umount", &c]);
            run(&["rm", &c]);
        }
        run(&["rmi", "--force", IMAGE]);
    }
}

#[test]
fn the_containerfile_builds_an_image_whose_binary_runs_as_user_10001_and_scans_a_lab() {
    let tmp = tempfile::tempdir().unwrap();
    let mut storage = Storage::new(tmp.path());

    // The build stage's steps, then the Containerfile with buildah.
    let rootfs = tmp.path().join("ctx/rootfs");
    let out = Command::new(repo("scripts/container_build.sh"))
        .arg("--rootfs")
        .arg(&rootfs)
        .args(["--bin", env!("CARGO_BIN_EXE_synsweep"), "--image", IMAGE])
        .env("CONTAINERS_STORAGE_CONF", &storage.conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "container_build.sh: {}", text(&out));
    assert!(text(&out).contains("synsweep 0.1.0"), "{}", text(&out));

    // The image: user 10001, synsweep on PATH as the entry point.
    let config = storage.buildah(&[
        "inspect",
        "--type",
        "image",
        "--format",
        "{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.Env}}",
        IMAGE,
    ]);
    assert_eq!(
        config, "10001:10001 [synsweep] [PATH=/usr/local/bin]",
        "image config"
    );

    // Its file system: small, the binary keeps its file capabilities, and
    // nft is where synsweep looks for it.
    let ctr = storage.buildah(&["from", "--pull-never", IMAGE]);
    storage.container = Some(ctr.clone());
    let root = PathBuf::from(storage.buildah(&["mount", &ctr]));
    let bin = root.join("usr/local/bin/synsweep");
    let caps = Command::new("getcap").arg(&bin).output().unwrap();
    assert!(
        String::from_utf8_lossy(&caps.stdout).contains("cap_net_admin,cap_net_raw=ep"),
        "{}",
        text(&caps)
    );
    assert!(root.join("usr/sbin/nft").is_file(), "no /usr/sbin/nft");
    let size: u64 = walk(&root);
    assert!(size < 20 << 20, "image file system is {size} bytes");

    // Its binary, as user 10001, from the image's file system, in a lab's
    // scanner namespace (/proc and /sys mounted as a container runtime does,
    // in the private mount namespace `ip netns exec` gives).
    let lab = Lab::builder()
        .listen(&[80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let _sshd = start_sshd(&lab, tmp.path());
    let run_in_image = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "set -e; root=$1; shift
                mount -t proc proc \"$root/proc\"
                mount -t sysfs sysfs \"$root/sys\"
                exec chroot --userspec=10001:10001 \"$root\" /usr/local/bin/synsweep \"$@\"",
            )
            .arg("sh")
            .arg(&root)
            .args(args);
        lab.run_in_scanner(&mut cmd)
    };
    let out = run_in_image(&["--version"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "synsweep 0.1.0"
    );

    let range = "198.19.0.0/24";
    let out = run_in_image(&[
        "scan",
        range,
        "-p",
        "22,80,443",
        "--rate",
        "5000",
        "--wait",
        "1",
        "-q",
        "-o",
        "-",
    ]);
    assert!(out.status.success(), "scan from the image: {}", text(&out));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let open = pairs(&records, "open");
    assert_eq!(records.len(), open.len(), "a pair reported twice");
    // The lab's listeners on 80, sshd on 22, on every alive host.
    let mut truth = lab.ground_truth_open(&[80, 443], range);
    truth.extend(
        lab.ground_truth_open(&[80], range)
            .into_iter()
            .map(|(a, _)| (a, 22)),
    );
    assert_eq!(open, truth);
    assert_eq!(open.len(), 64 * 2);
    // Identification works in the image: every sshd named, by its banner.
    let ssh: Vec<&serde_json::Value> = records.iter().filter(|r| r["port"] == 22).collect();
    assert_eq!(ssh.len(), 64);
    for r in ssh {
        assert_eq!(r["protocol"], "ssh", "{r}");
        assert!(
            r["banner"].as_str().unwrap_or("").starts_with("SSH-2.0-"),
            "{r}"
        );
    }
    assert!(!text(&out).contains("warning"), "{}", text(&out));
    assert!(guard_tables(&lab).is_empty(), "{:?}", guard_tables(&lab));
}

/// Total size of the regular files under `dir`.
fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path())
            } else if t.is_file() {
                e.metadata().unwrap().len()
            } else {
                0
            }
        })
        .sum()
}
