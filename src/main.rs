//! The synsweep binary: parse the command line, run the command, turn errors
//! into one line on stderr and an exit status (2 bad input, 1 cannot run,
//! 75 paused: state saved, run again to resume).

use clap::Parser;
use synsweep::cli::{Cli, Command, ScanArgs};
use synsweep::error::{EXIT_PAUSED, Error, Result};
use synsweep::output::Format;
use synsweep::output::progress::{self, Progress};
use synsweep::resume::PausedScan;
use synsweep::statedir::{self, Plan};

/// `synsweep scan`: with `--state-dir`, the state directory decides whether to
/// start, resume or skip (see `synsweep::statedir`); `--resume` resumes.
fn scan(a: ScanArgs) -> Result<()> {
    let line = std::env::args().collect::<Vec<_>>().join(" ");
    let (args, paused) = if a.state_dir.is_some() {
        match statedir::plan(&a)? {
            Plan::Finished(done, path) => {
                // Said even with -q: the scheduler's log shows why nothing ran.
                eprintln!("{}", done.line(&path));
                return Ok(());
            }
            Plan::Resume(args, st) => (*args, Some(*st)),
            Plan::Start(args) => (*args, None),
        }
    } else {
        match &a.resume {
            Some(p) => {
                let st = PausedScan::load(p)?;
                st.check_given(&a)?;
                (st.merge_args(&a), Some(st))
            }
            None => (a, None),
        }
    };
    let mut cfg = synsweep::config::scan_config(&args, line)?;
    if let Some(st) = &paused {
        st.check_config(&cfg)?;
    }
    let state_dir = args.state_dir.clone();
    if let Some(dir) = &state_dir {
        cfg.paused_path = statedir::paused_path(dir);
    }
    // What earlier runs did, for done.json.
    let before = paused.as_ref().map_or((0, 0), |p| (p.sent, p.found));
    let summary = synsweep::run::run(&cfg, paused)?;
    if !cfg.quiet && !cfg.dry_run {
        eprintln!("{}", summary.line(cfg.seed));
    }
    if let Some(p) = &summary.paused {
        // Interrupted: the scan is not complete. One line even with -q, so
        // a scheduler's log says where the state is.
        if cfg.quiet {
            let how = match &state_dir {
                Some(_) => "run the same command again to resume".to_string(),
                None => format!("resume with synsweep scan --resume {}", p.display()),
            };
            eprintln!("synsweep: paused, state saved in {} ({how})", p.display());
        }
        std::process::exit(EXIT_PAUSED);
    }
    if let Some(dir) = &state_dir
        && !cfg.dry_run
    {
        statedir::record_done(dir, &cfg, &summary, before)?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scan(a) => scan(a),
        Command::Report(a) => {
            let _progress = Progress::start("report", progress::wanted(a.quiet));
            let forced = a.format.as_deref().map(Format::parse).transpose()?;
            let outs: Vec<(String, Option<Format>)> =
                a.output.iter().map(|o| (o.clone(), forced)).collect();
            synsweep::output::report::report_with_baseline(
                &a.inputs,
                &outs,
                a.policy.as_deref(),
                a.baseline.as_deref(),
            )
        }
        Command::Diff(a) => {
            let progress = Progress::start("diff", progress::wanted(a.quiet));
            let changed = synsweep::output::diff::diff(&a.old, &a.new, a.output.as_deref());
            drop(progress);
            if changed? {
                // Changes: exit 1, as diff and ndiff do.
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Merge(a) => {
            let _progress = Progress::start("merge", progress::wanted(a.quiet));
            synsweep::output::merge(&a.inputs, &a.output)
        }
        Command::Catalog(a) => {
            let text = synsweep::risk::catalog::render(&a.format)?;
            // A closed pipe (`| head`) ends the listing, not in a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut synsweep::cli::command(),
                "synsweep",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(synsweep::cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| Error::runtime(format!("writing the man page: {e}"))),
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // One line: clap's first line, without its usage block.
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("error: bad arguments")
                .trim_start_matches("error: ");
            eprintln!(
                "synsweep: {} (see 'synsweep --help')",
                synsweep::error::printable(first)
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("synsweep: {e}");
        std::process::exit(e.exit_code());
    }
}
