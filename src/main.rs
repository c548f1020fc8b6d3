use std::process::ExitCode;

use preforkd::config::file::{self as config_file, Refusal, Task};
use preforkd::master::upgrade::Invocation;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    match config_file::task(&argv) {
        Ok(Task::Serve(config)) => preforkd::master::run(*config, Invocation::current(argv)),
        Ok(Task::Status(source)) => preforkd::client::status::run(&source),
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
