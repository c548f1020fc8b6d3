use std::process::ExitCode;

use clap::error::ErrorKind;
use preforkd::config::Config;
use preforkd::config::file::{self as config_file, ArgsError};
use preforkd::master::upgrade::Invocation;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let loaded = match config_file::load(&argv) {
        Ok(loaded) => loaded,
        Err(ArgsError::Clap(e))
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Clap(e)) => {
            // One line naming the flag; clap's own text after "error: " already does.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("preforkd: {first} (see --help)");
            return ExitCode::from(2);
        }
        Err(ArgsError::File(message)) => {
            eprintln!("preforkd: error: {message}");
            return ExitCode::from(2);
        }
    };
    match Config::from_args(&loaded.args) {
        Ok(config) => preforkd::master::run(config, Invocation::current(argv)),
        Err(message) => {
            eprintln!("preforkd: error: {}", loaded.explain(message));
            ExitCode::from(2)
        }
    }
}
