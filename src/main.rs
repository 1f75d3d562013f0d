//! The `natter` binary: parse flags, start logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use natter::config::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, no usage dump: `error: invalid value 'lots' for '--max-upload <..>': ...`
            // A line ending in `:` (`the following required arguments were not provided:`) is
            // completed with the next one (`--tls-key <FILE>`).
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("error: bad arguments");
            match lines.next().filter(|_| first.ends_with(':')) {
                Some(next) => eprintln!("{first} {next}"),
                None => eprintln!("{first}"),
            }
            return ExitCode::from(2);
        }
    };
    // Unusable --tls-cert/--tls-key files are a usage error like a bad flag: exit 2.
    if let Err(message) = natter::transport::cli::preflight(&cli) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    match natter::transport::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
