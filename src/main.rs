use std::process::ExitCode;

use preforkd::config::file::{self as config_file, Refusal};
use preforkd::master::upgrade::Invocation;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    match config_file::config(&argv) {
        Ok(config) => preforkd::master::run(config, Invocation::current(argv)),
        Err(Refusal::Help(text)) => {
            let _ = text.print();
            ExitCode::SUCCESS
        }
        Err(Refusal::Invalid(message)) => {
            eprintln!("preforkd: error: {message}");
            ExitCode::from(2)
        }
    }
}
