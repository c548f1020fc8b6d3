//! -c/--config FILE: settings in TOML, one top-level key per long flag name.
//!
//! The file is turned into flags placed before the command line's own, so the command
//! line wins and every flag, present or future, is settable without a second list of
//! fields to keep in step with [`Args`]. Each setting is checked on its own first, so an
//! error names the file, the line and the key.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use crate::config::{Args, Command, Config, StatusSource};

/// Flags that make no sense in the file.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// Why the arguments were not usable.
pub enum ArgsError {
    /// From clap: also help and version, which are not errors.
    Clap(clap::Error),
    /// The config file: one line, naming the file, the line and the key.
    File(String),
}

/// Why the command line does not give a configuration to run with.
#[derive(Debug)]
pub enum Refusal {
    /// --help or --version: clap's text to print, then exit successfully.
    Help(clap::Error),
    /// What is wrong, in one line naming the flag, or the file, line and key.
    Invalid(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Help(e) => f.write_str(&first_line(&e.to_string())),
            Refusal::Invalid(message) => f.write_str(message),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Task {
    /// No command: serve with this configuration.
    Serve(Box<Config>),
    /// `preforkd status`: read this status listener.
    Status(StatusSource),
}

/// What the command line `argv` (argv[0] first) and the config file it names ask for,
/// validated: a server's configuration, or a client command's settings.
pub fn task(argv: &[OsString]) -> Result<Task, Refusal> {
    let loaded = refused(load(argv))?;
    let explain = |m| Refusal::Invalid(loaded.explain(m));
    match &loaded.args.command {
        Some(Command::Status(status)) => StatusSource::from_args(&loaded.args, status)
            .map(Task::Status)
            .map_err(explain),
        None => Config::from_args(&loaded.args)
            .map(|c| Task::Serve(Box::new(c)))
            .map_err(explain),
    }
}

/// The configuration that the command line `argv` (argv[0] first) and the config file
/// it names give, validated: what start-up and a reload both run with.
pub fn config(argv: &[OsString]) -> Result<Config, Refusal> {
    let loaded = refused(load(argv))?;
    Config::from_args(&loaded.args).map_err(|m| Refusal::Invalid(loaded.explain(m)))
}

/// A failed [`load`] as the refusal to report: help and version are not errors.
fn refused(loaded: Result<Loaded, ArgsError>) -> Result<Loaded, Refusal> {
    match loaded {
        Ok(loaded) => Ok(loaded),
        Err(ArgsError::Clap(e))
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Err(Refusal::Help(e))
        }
        Err(ArgsError::Clap(e)) => {
            // clap's first line already names the flag; the rest is usage.
            let first = first_line(&e.to_string());
            let why = first.strip_prefix("error: ").unwrap_or(&first);
            Err(Refusal::Invalid(format!("{why} (see --help)")))
        }
        Err(ArgsError::File(message)) => Err(Refusal::Invalid(message)),
    }
}

/// The parsed arguments and, for settings taken from the file, where they came from.
pub struct Loaded {
    pub args: Args,
    /// "--workers" -> (file, line), for the settings the command line did not override.
    origins: HashMap<String, (String, usize)>,
}

impl Loaded {
    /// Adds the file and line to a validation error about a setting from the file.
    pub fn explain(&self, message: String) -> String {
        let flag = message.split([' ', ':']).next().unwrap_or_default();
        match self.origins.get(flag) {
            Some((file, line)) => format!("{file} line {line}: {message}"),
            None => message,
        }
    }
}

/// Parses the command line `argv` (argv[0] first), merged with the config file it names.
pub fn load(argv: &[OsString]) -> Result<Loaded, ArgsError> {
    let on_cli = matches(argv)?;
    let cli = Args::from_arg_matches(&on_cli).map_err(ArgsError::Clap)?;
    let Some(path) = cli.config.clone() else {
        return Ok(Loaded {
            args: cli,
            origins: HashMap::new(),
        });
    };
    let settings = read(&path).map_err(ArgsError::File)?;
    let argv0 = argv.first().cloned().unwrap_or_else(|| "preforkd".into());
    let shown = path.display().to_string();
    let mut merged = vec![argv0.clone()];
    let mut origins = HashMap::new();
    for s in &settings {
        // Checked alone, so the error is about this key and no other.
        let mut alone = vec![argv0.clone()];
        alone.extend(s.args.iter().map(OsString::from));
        if let Err(e) = Args::try_parse_from_argv(&alone) {
            let why = match e {
                ArgsError::Clap(e) => first_line(&e.to_string()),
                ArgsError::File(m) => m,
            };
            let why = why.trim_start_matches("error: ");
            return Err(ArgsError::File(format!(
                "{shown} line {}: {}: {why}",
                s.line, s.key
            )));
        }
        // A repeatable flag given on the command line too would add to the file's
        // values, not replace them: the command line's take the place of the file's.
        if on_cli.value_source(&s.key.replace('-', "_"))
            == Some(clap::parser::ValueSource::CommandLine)
        {
            continue;
        }
        merged.extend(s.args.iter().map(OsString::from));
        origins.insert(format!("--{}", s.key), (shown.clone(), s.line));
    }
    merged.extend(argv.iter().skip(1).cloned());
    let args = Args::try_parse_from_argv(&merged)?;
    Ok(Loaded { args, origins })
}

impl Args {
    fn try_parse_from_argv(argv: &[OsString]) -> Result<Args, ArgsError> {
        Args::from_arg_matches(&matches(argv)?).map_err(ArgsError::Clap)
    }
}

/// A flag given twice counts once, with its last value: that is how the command line
/// overrides the file, and scripts that append a flag to a base command rely on it.
fn matches(argv: &[OsString]) -> Result<clap::ArgMatches, ArgsError> {
    Args::command()
        .args_override_self(true)
        .try_get_matches_from(argv)
        .map_err(ArgsError::Clap)
}

/// One key of the file, as flags.
struct Setting {
    key: String,
    line: usize,
    args: Vec<String>,
}

fn read(path: &Path) -> Result<Vec<Setting>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config {shown}: {e}"))?;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    type Table = std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;
    let table: Table = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map_or(String::new(), |s| format!(" line {}", line_of(s.start)));
        format!("{shown}{at}: {}", e.message().trim())
    })?;
    let command = Args::command();
    let mut out = Vec::new();
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        let line = line_of(key.span().start);
        let name = key.get_ref().replace('_', "-");
        let bad = |why: &str| format!("{shown} line {line}: {name}: {why}");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(name.as_str()))
            .filter(|_| !NOT_IN_FILE.contains(&name.as_str()))
            .ok_or_else(|| bad("unknown setting (the keys are the long flag names, see --help)"))?;
        let flag = format!("--{name}");
        let takes_value = arg.get_action().takes_values();
        let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
        let args = match value.get_ref() {
            toml::Value::Array(items) if repeatable => {
                let mut args = Vec::new();
                for item in items {
                    let text = match item {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        _ => return Err(bad("expected a list of strings")),
                    };
                    args.extend([flag.clone(), text]);
                }
                args
            }
            toml::Value::Boolean(b) if !takes_value => {
                if *b {
                    vec![flag]
                } else {
                    vec![]
                }
            }
            _ if !takes_value => return Err(bad("expected true or false")),
            toml::Value::String(s) => vec![flag, s.clone()],
            toml::Value::Integer(n) => vec![flag, n.to_string()],
            toml::Value::Float(f) => vec![flag, f.to_string()],
            toml::Value::Boolean(_) => return Err(bad("expected a value, not true or false")),
            _ if repeatable => return Err(bad("expected a string or a list of strings")),
            _ => return Err(bad("expected a single string or number")),
        };
        out.push(Setting {
            key: name,
            line,
            args,
        });
    }
    Ok(out)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(file: &str, cli: &[&str]) -> Result<Args, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["preforkd".into(), "-c".into(), path.clone().into()];
        argv.extend(cli.iter().map(OsString::from));
        match load(&argv) {
            Ok(l) => Ok(l.args),
            Err(ArgsError::File(m)) => Err(m.replace(&path.display().to_string(), "FILE")),
            Err(ArgsError::Clap(e)) => Err(e.to_string()),
        }
    }

    #[test]
    fn file_settings_and_command_line_override() {
        let a = load_with(
            "workers = 3\nroot = \"/tmp\"\nserve-hidden = true\nmax_requests = 7\ntimeout = 2.5\n",
            &["-w", "5"],
        )
        .unwrap();
        assert_eq!(a.workers, Some(5));
        assert_eq!(a.root, Path::new("/tmp"));
        assert!(a.serve_hidden);
        assert_eq!(a.max_requests, 7);
        assert_eq!(a.timeout, 2.5);
    }

    #[test]
    fn repeatable_settings_take_a_list_and_the_command_line_replaces_it() {
        let file = "bind = [\"127.0.0.1:1\", \"[::1]:1\"]\ntls-bind = \"127.0.0.1:2\"\n";
        let a = load_with(file, &[]).unwrap();
        assert_eq!(a.bind, ["127.0.0.1:1", "[::1]:1"]);
        assert_eq!(a.tls_bind, ["127.0.0.1:2"]);
        let a = load_with(file, &["-b", "127.0.0.1:3", "-b", "127.0.0.1:4"]).unwrap();
        assert_eq!(a.bind, ["127.0.0.1:3", "127.0.0.1:4"]);
        assert_eq!(a.tls_bind, ["127.0.0.1:2"]);
        let e = load_with("\nbind = [1.5]\n", &[]).unwrap_err();
        assert!(
            e.starts_with("FILE line 2: bind: expected a list of strings"),
            "{e}"
        );
        let e = load_with("workers = [1, 2]\n", &[]).unwrap_err();
        assert!(
            e.starts_with("FILE line 1: workers: expected a single string"),
            "{e}"
        );
    }

    #[test]
    fn the_last_of_a_repeated_flag_wins() {
        let argv: Vec<OsString> = ["preforkd", "-w", "2", "--workers", "3"]
            .iter()
            .map(OsString::from)
            .collect();
        let Ok(loaded) = load(&argv) else {
            panic!("repeated flag refused")
        };
        assert_eq!(loaded.args.workers, Some(3));
    }

    #[test]
    fn the_status_command_takes_the_files_status_bind_wherever_c_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let shown = path.display().to_string();
        std::fs::write(&path, "workers = 2\nstatus-bind = \"127.0.0.1:9191\"\n").unwrap();
        let run = |argv: &[&str]| {
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            match task(&argv) {
                Ok(Task::Status(s)) => Ok(s.url()),
                Ok(Task::Serve(_)) => Err("serve".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        };
        let want = Ok("http://127.0.0.1:9191/status.json".to_owned());
        assert_eq!(run(&["preforkd", "-c", &shown, "status"]), want);
        assert_eq!(run(&["preforkd", "status", "-c", &shown]), want);
        assert_eq!(
            run(&["preforkd", "status", "-c", &shown, "--url", "h:1"]),
            Ok("http://h:1/status.json".to_owned())
        );
        // A bad address in the file is reported with its line.
        std::fs::write(&path, "\nstatus-bind = \"127.0.0.1:0\"\n").unwrap();
        let e = run(&["preforkd", "status", "-c", &shown]).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "{shown} line 2: --status-bind 127.0.0.1:0: port 0"
            )),
            "{e}"
        );
        // The server's own settings are not checked for the client: no root is needed.
        assert!(run(&["preforkd", "-r", "/no/such/dir", "status"]).is_ok());
        assert_eq!(
            run(&["preforkd", "-r", "/", "-b", "127.0.0.1:0"]),
            Err("serve".to_owned())
        );
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let e = load_with("workers = 2\n\nworkers-x = 3\n", &[]).unwrap_err();
        assert!(
            e.starts_with("FILE line 3: workers-x: unknown setting"),
            "{e}"
        );
        let e = load_with("# c\nworkers = \"many\"\n", &[]).unwrap_err();
        assert!(
            e.starts_with("FILE line 2: workers: invalid value 'many'"),
            "{e}"
        );
        let e = load_with("daemon = 1\n", &[]).unwrap_err();
        assert!(
            e.starts_with("FILE line 1: daemon: expected true or false"),
            "{e}"
        );
        let e = load_with("workers = \n", &[]).unwrap_err();
        assert!(e.starts_with("FILE line 1: "), "{e}");
    }
}
