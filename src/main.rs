//! The synsweep binary: parse the command line, run the command, turn errors
//! into one line on stderr and an exit status (2 bad input, 1 cannot run).

use clap::Parser;
use synsweep::cli::{Cli, Command};
use synsweep::error::{Error, Result};
use synsweep::output::Format;
use synsweep::resume::PausedScan;

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scan(a) => {
            let line = std::env::args().collect::<Vec<_>>().join(" ");
            let (args, paused) = match &a.resume {
                Some(p) => {
                    let st = PausedScan::load(p)?;
                    st.check_given(&a)?;
                    (st.merge_args(&a), Some(st))
                }
                None => (a, None),
            };
            let cfg = synsweep::config::scan_config(&args, line)?;
            if let Some(st) = &paused {
                st.check_config(&cfg)?;
            }
            let summary = synsweep::scan::run(&cfg, paused)?;
            if !cfg.quiet && !cfg.dry_run {
                eprintln!("{}", summary.line(cfg.seed));
            }
            if summary.paused.is_some() {
                // Interrupted: the scan is not complete.
                std::process::exit(130);
            }
            Ok(())
        }
        Command::Report(a) => {
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
            if synsweep::output::diff::diff(&a.old, &a.new, a.output.as_deref())? {
                // Changes: exit 1, as diff and ndiff do.
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Merge(a) => synsweep::output::merge(&a.inputs, &a.output),
        Command::Catalog(a) => {
            print!("{}", synsweep::risk::catalog::render(&a.format)?);
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
            eprintln!("synsweep: {first} (see 'synsweep --help')");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("synsweep: {e}");
        std::process::exit(e.exit_code());
    }
}
