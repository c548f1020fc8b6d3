use std::process::ExitCode;

use clap::Parser;
use preforkd::config::{Args, Config};

fn main() -> ExitCode {
    let args = Args::parse();
    match Config::from_args(&args) {
        Ok(config) => preforkd::master::run(config),
        Err(message) => {
            eprintln!("preforkd: error: {message}");
            ExitCode::from(2)
        }
    }
}
