//! The layering stays true: dependencies point one way, `http` <- `site` <- `worker` <-
//! `master`, with the plain values (`config`, `log`, `scoreboard`, `privileges`) below
//! them all, and no two files depend on each other, directly or round a longer loop.
//!
//! A reference is any `crate::a::b` (or `preforkd::a::b` in `main.rs`), `super::x` or,
//! in a module's root file, `x::` for a child module `x` it declares. Test code counts
//! too: a test that needs a module above its own is in the wrong file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rank of each top-level module: a file may use only files of its own rank or lower.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "log" | "scoreboard" | "privileges" | "calendar" | "ready" => 0,
        // TLS's configuration and connection code: plain values and sockets only.
        "config" | "tls" => 1,
        // The protocols, bytes in and decisions out: HTTP/1.1 and HTTP/2.
        "http" | "h2" => 2,
        "site" => 3,
        "worker" => 4,
        "master" => 5,
        "" => 6, // lib.rs: declares the modules
        // `preforkd status` and any client command: programs beside the server, which
        // nothing of the server uses.
        "client" => 6,
        "main" => 7, // the binary, above everything
        _ => return None,
    })
}

/// A source file and its module path (`["site", "root"]`; `[]` for lib.rs).
struct Source {
    path: PathBuf,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_str().unwrap().to_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            Source { path, module, text }
        })
        .collect()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The `a::b::c` path that starts at `at` in `text`, as segments (stops at `{`, `*`, `(`).
fn path_at(text: &str, at: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i == start {
            break;
        }
        segments.push(text[start..i].to_owned());
        if text[i..].starts_with("::") {
            i += 2;
        } else {
            break;
        }
    }
    segments
}

/// Every place `word::` starts a path (not as the tail of a longer path or identifier).
fn paths_after(text: &str, word: &str) -> Vec<Vec<String>> {
    let needle = format!("{word}::");
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(&needle) {
        let at = from + pos;
        from = at + needle.len();
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| is_ident(b) || b == b':') {
            continue;
        }
        found.push(path_at(text, from));
    }
    found
}

/// Strips `//` comments, so prose that names a path does not count as a use of it.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which file each source depends on, by module path.
fn graph(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    // The longest prefix of `path` that is a file's module.
    let resolve = |path: Vec<String>| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let mut edges = BTreeMap::new();
    for s in sources {
        let text = code_only(&s.text);
        let is_main = s.module == ["main"];
        let mut targets = BTreeSet::new();
        let root = if is_main { "preforkd" } else { "crate" };
        for p in paths_after(&text, root) {
            targets.extend(resolve(p));
        }
        // `super::` from `a/b.rs` means `a`; from `a/mod.rs` it means the parent of `a`.
        let is_root_file = s.path.ends_with("mod.rs") || s.module.is_empty();
        let parent: Vec<String> = if is_root_file {
            s.module[..s.module.len().saturating_sub(1)].to_vec()
        } else {
            s.module[..s.module.len() - 1].to_vec()
        };
        // Inside an inline test module, `super::` is this file again.
        let tests_from = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
        for p in paths_after(&text[..tests_from], "super") {
            targets.extend(resolve([parent.clone(), p].concat()));
        }
        let here: Vec<String> = if is_root_file {
            s.module.clone()
        } else {
            parent.clone()
        };
        for p in paths_after(&text, "self") {
            targets.extend(resolve([here.clone(), p].concat()));
        }
        if is_root_file {
            // Children are named bare: `event::serve(..)` in `worker/mod.rs`.
            for child in modules
                .iter()
                .filter(|m| m.len() == s.module.len() + 1 && m.starts_with(&s.module))
            {
                let name = child.last().unwrap();
                if !paths_after(&text, name).is_empty() {
                    targets.insert(child.clone());
                }
            }
        }
        targets.remove(&s.module);
        edges.insert(s.module.clone(), targets);
    }
    edges
}

fn top(module: &[String]) -> &str {
    module.first().map_or("", String::as_str)
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "lib".into()
    } else {
        module.join("::")
    }
}

#[test]
fn every_top_level_module_has_a_rank() {
    for s in sources() {
        assert!(
            rank(top(&s.module)).is_some(),
            "{}: give its top-level module a rank in tests/layout.rs",
            s.path.display()
        );
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let sources = sources();
    let mut upward = Vec::new();
    for (from, targets) in graph(&sources) {
        let own = rank(top(&from)).unwrap_or(u8::MAX);
        for to in targets {
            if rank(top(&to)).unwrap_or(u8::MAX) > own {
                upward.push(format!("{} uses {}", name(&from), name(&to)));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn no_import_cycles_between_files_or_folders() {
    let sources = sources();
    let files = graph(&sources);
    if let Some(cycle) = find_cycle(&files) {
        panic!("files import each other: {}", cycle.join(" -> "));
    }
    // Folders: the top-level modules, with lib.rs and main.rs left out (they name all).
    let mut folders: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, targets) in &files {
        if from.is_empty() || from == &["main"] {
            continue;
        }
        let entry = folders.entry(vec![top(from).to_owned()]).or_default();
        for to in targets {
            if !to.is_empty() && top(to) != top(from) {
                entry.insert(vec![top(to).to_owned()]);
            }
        }
    }
    if let Some(cycle) = find_cycle(&folders) {
        panic!("folders import each other: {}", cycle.join(" -> "));
    }
}

/// A cycle in `graph`, as the names along it, if there is one (depth-first search).
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle: Vec<String> = stack[start..].iter().map(|m| name(m)).collect();
                    cycle.push(name(next));
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_checker_sees_what_it_checks() {
    // Guards against a checker that passes because it finds nothing.
    let sources = sources();
    let edges = graph(&sources);
    let of = |m: &[&str]| -> &BTreeSet<Vec<String>> {
        &edges[&m.iter().map(|s| s.to_string()).collect::<Vec<_>>()]
    };
    let has = |from: &[&str], to: &[&str]| {
        of(from).contains(&to.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    };
    assert!(has(&["site", "handler"], &["http", "request"]));
    assert!(has(&["site", "root"], &["site", "path"]));
    assert!(has(&["worker", "conn"], &["site", "handler"]));
    assert!(has(&["main"], &["master"]));
    let mut cyclic = BTreeMap::new();
    cyclic.insert(
        vec!["a".to_string()],
        BTreeSet::from([vec!["b".to_string()]]),
    );
    cyclic.insert(
        vec!["b".to_string()],
        BTreeSet::from([vec!["a".to_string()]]),
    );
    assert!(find_cycle(&cyclic).is_some());
}
