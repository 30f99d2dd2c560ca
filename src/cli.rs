//! The command line, defined once with clap: the binary parses it, and the
//! man page and shell completions are generated from the same definitions.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "Stateless raw-packet TCP SYN scanner with a risk picture";

const LONG_ABOUT: &str = "\
synsweep sends TCP SYN probes from a raw socket in a seeded random order over every \
(address, port) pair, validates replies statelessly (a keyed hash in the sequence \
number), and turns every open port into a finding with a category, a severity, why it \
matters and what to do about it, rolled up into a 0-100 score and an A-F grade.

Needs root or CAP_NET_RAW to send and capture raw packets.

Exit status: 0 done, 1 could not run, 2 bad input, 75 scan paused by a signal (state
saved; run the same command again to resume).";

const SCAN_EXAMPLES: &str = "\
Examples:
  synsweep scan 198.19.0.0/16 -p 22,80,443 --rate 100k -o findings.ndjson
  synsweep scan --targets-file nets.txt --exclude 198.19.7.0/24 -o report.html -o out.csv
  synsweep scan 198.19.0.0/16 -p 1-1024 --retries 2 --seed 42 --shard 1/3 -o part1.ndjson
  synsweep scan 127.0.0.1 -p 1-65535 --rate max -o - | jq .port
  synsweep scan --resume paused.json

Targets are IPv4 addresses, CIDR blocks (198.19.0.0/16) or ranges
(198.19.0.1-198.19.0.99). Reserved ranges (private, loopback, multicast, ...) are
skipped inside a wider target; a target wholly inside one is scanned as named.

Output format follows the file extension: .ndjson/.jsonl, .json, .csv, .xml (nmap),
.txt (masscan list), .html (report); '-' is NDJSON on stdout.

Where probes go: each target the way the kernel routes it (several interfaces and
gateways in one scan). Targets on a directly connected Ethernet network are first asked
for their MAC with ARP and probed at their own MAC; hosts that do not answer ARP are
counted as down and not probed. tun/WireGuard/ppp interfaces are probed at the IP layer.
Targets with no route are named in a warning and not probed.

While sending, the scan saves its state to paused.json every second: after a crash,
--resume paused.json continues from there.

Ctrl-C (or SIGTERM) stops sending, waits for late replies, flushes findings and writes
paused.json (in --state-dir if given, else the working directory) and prints where; a
second signal skips the wait. With --state-dir DIR the same command line starts, resumes
or (when DIR/done.json says the scan finished) skips the scan:
  synsweep scan 198.19.0.0/16 -p 22 --seed 7 --shard-from-env SLURM_ARRAY_TASK_ID/4 \
      --state-dir state/shard-$SLURM_ARRAY_TASK_ID -o shard-$SLURM_ARRAY_TASK_ID.ndjson

Exit status: 0 done (or already done), 1 could not run, 2 bad input, 75 paused (stopped
by a signal, state saved: run again to resume; 75 is EX_TEMPFAIL, not a crash).";

#[derive(Debug, Parser)]
#[command(name = "synsweep", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Scan targets for open TCP ports and write findings
    #[command(after_long_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Turn findings files into any output format, applying a policy again
    #[command(
        after_long_help = "Examples:\n  synsweep report findings.ndjson -o report.html\n  synsweep report a.ndjson b.ndjson -o all.xml -o all.csv --policy policy.toml\n  synsweep report today.ndjson --baseline last-week.ndjson -o report.html\n  synsweep report nmap-scan.xml masscan.json -o report.html\n\nInputs: synsweep NDJSON, nmap XML (-oX), masscan -oJ or -oL, zmap CSV (saddr,sport),\nnaabu JSON lines; told by their content."
    )]
    Report(ReportArgs),
    /// Merge findings files into one, removing duplicates
    #[command(
        after_long_help = "Example:\n  synsweep merge shard1.ndjson shard2.ndjson shard3.ndjson -o all.ndjson"
    )]
    Merge(MergeArgs),
    /// What changed between two scans: ports opened, closed, changed; host grades
    #[command(
        after_long_help = "Change records (NDJSON): the finding's fields plus \"change\": opened, closed or\nchanged (service, protocol, category or severity differ; \"was\" holds the old values);\n{\"change\":\"grade\",\"ip\",\"old_score\",\"old_grade\",\"new_score\",\"new_grade\"} for a host\nwhose grade changed. A summary goes to stdout (stderr with -o -).\nExit status: 0 no change, 1 changes, 2 bad input.\n\nExample:\n  synsweep diff last-week.ndjson today.ndjson -o changes.ndjson"
    )]
    Diff(DiffArgs),
    /// Print the risk catalog: every known port with its category and advice
    Catalog(CatalogArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout
    Man,
}

#[derive(Debug, Args, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScanArgs {
    /// Targets: IPv4 or IPv6 addresses, CIDR blocks (prefixes) or ranges a.b.c.d-e.f.g.h
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Ports: 22,80,443 or 1-1024 or a mix [default: the risk catalog's ports]
    #[arg(short = 'p', long = "ports", value_name = "PORTS")]
    pub ports: Option<String>,

    /// Packets per second (100k and 1.5M work); 'max': as fast as the path carries them (starts at
    /// 10k, climbs while the share of probes answered holds, backs off when it falls, and adds one
    /// retry round over what was lost unless --retries is given); 'unlimited': as fast as the
    /// machine sends, no controller [default: 10000]. A fixed rate counts every packet sent:
    /// identification's (ACKs, hellos, further SYNs, RSTs) leave first, paced within it, and the
    /// probes take what it leaves; when its queue fills (a quarter second of the rate), ports get
    /// fewer connections, then new open ports are reported at once, unidentified (the summary
    /// counts them). With 'max' the same holds within the controller's cap
    #[arg(long, value_name = "PPS")]
    pub rate: Option<String>,

    /// Retry rounds for pairs that stayed silent (only where a reply is plausibly missing) [default:
    /// 0; with --rate max, one round over what was lost while it learned]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Seconds to wait for late replies after the last probe [default: 3]
    #[arg(long, value_name = "SECS")]
    pub wait: Option<f64>,

    /// Seed of the probe order (random if not given; printed in the summary)
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Scan only shard K of N (1-based); all shards need the same --seed
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Take the shard index from environment variable VAR (0-based, as Kubernetes
    /// JOB_COMPLETION_INDEX or Slurm SLURM_ARRAY_TASK_ID) out of N shards
    #[arg(long, value_name = "VAR/N", conflicts_with = "shard")]
    pub shard_from_env: Option<String>,

    /// Interface to send every probe on [default: the kernel's route for
    /// each target, which may use several interfaces in one scan]
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// Source addresses of probes: one address, a list, a range or a block
    /// (198.18.0.1,198.18.0.5 or 198.18.0.1-198.18.0.8; IPv6 too, for IPv6
    /// targets; at most 256 of each family); probes
    /// spread over them, each target always from the same one
    /// [default: the kernel's choice for each route]
    #[arg(long, value_name = "IPS")]
    pub source_ip: Option<String>,

    /// MAC address of the next hop for every Ethernet probe [default: the
    /// gateway's from the neighbour table or ARP; on-link targets each at
    /// their own MAC from an ARP sweep]
    #[arg(long, value_name = "MAC")]
    pub router_mac: Option<String>,

    /// Addresses, blocks or ranges never to probe (repeatable)
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,

    /// File of excludes, one per line, '#' comments
    #[arg(long, value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,

    /// File of targets, one per line, '#' comments
    #[arg(long, value_name = "FILE")]
    pub targets_file: Vec<PathBuf>,

    /// Also probe reserved ranges inside wider targets
    #[arg(long)]
    pub no_default_excludes: bool,

    /// Sweep IPv6 targets wider than 2^32 addresses (a /96)
    #[arg(long)]
    pub allow_wide: bool,

    /// Report closed ports (RST) too
    #[arg(long)]
    pub show_closed: bool,

    /// Pure SYN scan: do not complete handshakes to identify services
    #[arg(long)]
    pub no_identify: bool,

    /// Findings file; format from the extension; '-' is stdout (repeatable) [default: -]
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<String>,

    /// Output format for every -o: ndjson, json, csv, xml, list, html
    #[arg(long, value_name = "FMT")]
    pub format: Option<String>,

    /// Policy file (TOML): expected ports and per-port overrides
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// An older scan's findings (any input format): the HTML report shows what changed since
    #[arg(long, value_name = "OLD")]
    pub baseline: Option<PathBuf>,

    /// Continue a scan from its paused.json
    #[arg(long, value_name = "FILE", conflicts_with = "state_dir")]
    pub resume: Option<PathBuf>,

    /// Keep this scan's state in DIR (created if missing), so that the same command line
    /// serves every run: it starts the scan, resumes DIR/paused.json if the scan was paused,
    /// and does nothing (exit 0) once DIR/done.json says the scan finished. One DIR per shard
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Sender threads, each with its own socket [default: 2 with --rate max or 300k and up, else 1]
    #[arg(long, value_name = "N")]
    pub senders: Option<usize>,

    /// How probes reach the link: auto (AF_XDP where it binds, else AF_PACKET), xdp (AF_XDP or
    /// exit 1), packet (AF_PACKET) [default: auto]
    #[arg(long, value_name = "BACKEND", env = "SYNSWEEP_TX_BACKEND")]
    pub tx_backend: Option<String>,

    /// Stay root after the sockets are open (by default synsweep drops privileges)
    #[arg(long)]
    pub keep_root: bool,

    /// Print what would be scanned and how, send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// No status line and no summary
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Findings files: synsweep NDJSON, nmap XML, masscan JSON or list, zmap CSV, naabu JSON lines
    #[arg(value_name = "FINDINGS", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output file; format from the extension (repeatable)
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: Vec<String>,
    /// Output format for every -o: ndjson, json, csv, xml, list, html
    #[arg(long, value_name = "FMT")]
    pub format: Option<String>,
    /// Policy file (TOML)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// An older scan's findings: the HTML report shows what changed since
    #[arg(long, value_name = "OLD")]
    pub baseline: Option<PathBuf>,
    /// No progress line on stderr
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older scan's findings (synsweep NDJSON, nmap XML, masscan, zmap or naabu results)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The newer scan's findings (same formats)
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Change records file (NDJSON); '-' is stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// No progress line on stderr
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Findings files: synsweep NDJSON, nmap XML, masscan JSON or list, zmap CSV, naabu JSON lines
    #[arg(value_name = "FINDINGS", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The merged file; format from the extension
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: String,
    /// No progress line on stderr
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// table or json
    #[arg(long, value_name = "FMT", default_value = "table")]
    pub format: String,
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definitions_are_consistent() {
        super::command().debug_assert();
    }
}
