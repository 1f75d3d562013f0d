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
            let rendered = e.render().to_string();
            eprintln!("{}", rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    match natter::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
