use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use preforkd::config::{Args, Config};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line naming the flag; clap's own text after "error: " already does.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("preforkd: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    match Config::from_args(&args) {
        Ok(config) => preforkd::master::run(config),
        Err(message) => {
            eprintln!("preforkd: error: {message}");
            ExitCode::from(2)
        }
    }
}
