//! The code's floors, checked from the sources: in `shard/src` no file imports a file of a
//! higher layer, and in every crate of the workspace no circle of imports spans more than two
//! files. An import is a `crate::` or `super::` path outside comments and test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `shard/src`'s layers, lowest first: a module may import its own layer and those below.
/// A module not listed here fails the test (a new file says where it stands).
const SHARD_LAYERS: [(&str, &[&str]); 6] = [
    (
        "ground: messages, settings, metrics, clock, executor helpers",
        &[
            "messages",
            "config",
            "config::cluster",
            "config::values",
            "config::mirror",
            "config::tests",
            "rate",
            "notify",
            "startup",
            "undurable",
            "system",
            "executor",
            "metrics",
            "metrics::shard",
            "metrics::writer",
            "metrics::cluster",
            "metrics::registry",
            "metrics::registry::cluster",
            "metrics::mirror",
            "metrics::registry::mirror",
            "relay_info",
        ],
    ),
    ("a client connection's state", &["client::outbound", "client::connection", "client::reconciliation"]),
    ("the shard's state and fanout", &["shard", "plugin", "members"]),
    (
        "what a client connection does",
        &[
            "client",
            "client::ingest",
            "client::req",
            "client::negentropy",
            "client::management",
            "client::session",
            "client::front",
        ],
    ),
    (
        "the node's roles: a shard's tasks, the writer, the cluster",
        &[
            "serve",
            "monitor",
            "mirror",
            "mirror::catch_up",
            "mirror::dial",
            "mirror::up",
            "writer",
            "writer::management",
            "writer::retention",
            "writer::space",
            "cluster",
            "cluster::transport",
            "cluster::reload",
            "cluster::link",
            "cluster::links",
            "cluster::membership",
            "cluster::anti_entropy",
            "cluster::store_log",
        ],
    ),
    ("the runtime and the binary", &["runtime", "crate"]),
];

const CRATES: [&str; 4] = ["engine/src", "storage/src", "net/src", "shard/src"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Every `.rs` file under `dir`, by module path (`crate` for main.rs or lib.rs).
fn modules(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let relative = path.strip_prefix(dir).unwrap().with_extension("");
                let mut parts: Vec<String> =
                    relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
                if parts.last().is_some_and(|last| last == "mod") {
                    parts.pop();
                }
                let name = match parts.join("::").as_str() {
                    "main" | "lib" => "crate".to_string(),
                    other => other.to_string(),
                };
                found.insert(name, std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }
    found
}

/// The code of a file without its comments and its trailing test module.
fn code_of(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    source.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The paths a file's code names after `crate::` or `super::`, as written (`a::b::c`), with
/// the prefix; grouped imports (`crate::{a, b::c}`) give one path per member.
fn named_paths(code: &str) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for prefix in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let preceded = rest[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
            rest = &rest[at + prefix.len()..];
            if preceded {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for member in inner.split(',').map(str::trim).filter(|member| !member.is_empty()) {
                    paths.push((prefix.to_string(), member.to_string()));
                }
                continue;
            }
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push((prefix.to_string(), rest[..end].trim_end_matches(':').to_string()));
        }
    }
    paths
}

/// The module a path from `module` refers to: its longest prefix that is a known module.
fn target_of(module: &str, prefix: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut base: Vec<&str> = if module == "crate" { Vec::new() } else { module.split("::").collect() };
    let mut parts: Vec<&str> = path.split("::").filter(|part| !part.is_empty()).collect();
    match prefix {
        "crate::" => base.clear(),
        _ => {
            base.pop();
            while parts.first() == Some(&"super") {
                parts.remove(0);
                base.pop();
            }
        }
    }
    (0..=parts.len()).rev().find_map(|take| {
        let candidate = [&base[..], &parts[..take]].concat().join("::");
        let candidate = if candidate.is_empty() { "crate".to_string() } else { candidate };
        known.contains(&candidate).then_some(candidate)
    })
}

/// Each module's imports of other modules of the same crate.
fn graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(dir);
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, source)| {
            let targets = named_paths(&code_of(source))
                .into_iter()
                .filter_map(|(prefix, path)| target_of(module, &prefix, &path, &known))
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// The strongly connected components of more than one module (Tarjan, iterative enough for
/// a few dozen files: recursion depth is the longest import chain).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let number = walk.index.len();
        walk.index.insert(node, number);
        walk.low.insert(node, number);
        walk.stack.push(node);
        let graph = walk.graph;
        for next in &graph[node] {
            if !walk.index.contains_key(next.as_str()) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next.as_str()]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&next.as_str()) {
                let low = walk.low[node].min(walk.index[next.as_str()]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let at = walk.stack.iter().position(|member| *member == node).unwrap();
            let component: Vec<String> = walk.stack.split_off(at).into_iter().map(str::to_string).collect();
            if component.len() > 1 {
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

#[test]
fn no_circle_of_imports_spans_more_than_two_files() {
    for dir in CRATES {
        let graph = graph(&workspace().join(dir));
        assert!(graph.len() > 5, "{dir}: the sources were found ({} files)", graph.len());
        let too_big: Vec<_> = circles(&graph).into_iter().filter(|circle| circle.len() > 2).collect();
        assert!(too_big.is_empty(), "{dir}: files importing each other in a circle: {too_big:?}");
    }
}

#[test]
fn shard_files_import_only_their_own_layer_and_those_below() {
    let graph = graph(&workspace().join("shard/src"));
    let layer_of = |module: &str| SHARD_LAYERS.iter().position(|(_, members)| members.contains(&module));
    let mut upward = Vec::new();
    for (module, targets) in &graph {
        let layer = layer_of(module).unwrap_or_else(|| panic!("shard/src: {module} is in no layer of SHARD_LAYERS"));
        for target in targets {
            let target_layer = layer_of(target).unwrap_or_else(|| panic!("shard/src: {target} is in no layer"));
            if target_layer > layer {
                upward.push(format!(
                    "{module} ({}) imports {target} ({})",
                    SHARD_LAYERS[layer].0, SHARD_LAYERS[target_layer].0
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports from a lower layer to a higher one:\n{}", upward.join("\n"));
}

/// The checker itself: a planted circle and a planted upward import are found.
#[test]
fn the_checker_finds_circles_and_reads_imports_as_written() {
    let paths =
        named_paths("use crate::{hex, json::x};\nuse super::link::Link; // crate::not_this\nlet x = crate::a::b();");
    let written: Vec<String> = paths.into_iter().map(|(prefix, path)| format!("{prefix}{path}")).collect();
    assert_eq!(written, ["crate::hex", "crate::json::x", "crate::not_this", "crate::a::b", "super::link::Link"]);
    assert_eq!(code_of("a // crate::x\n#[cfg(test)]\nmod tests { crate::y }"), "a ");
    let known: BTreeSet<String> = ["crate", "a", "a::b", "c"].into_iter().map(String::from).collect();
    assert_eq!(target_of("a::b", "super::", "c::Thing", &known), Some("a".to_string()));
    assert_eq!(target_of("a::b", "crate::", "c::Thing", &known), Some("c".to_string()));
    assert_eq!(target_of("c", "crate::", "a::b::f", &known), Some("a::b".to_string()));
    let planted: BTreeMap<String, BTreeSet<String>> = [("x", "y"), ("y", "z"), ("z", "x"), ("w", "x")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    let found: Vec<BTreeSet<String>> = circles(&planted).into_iter().map(BTreeSet::from_iter).collect();
    let expected: BTreeSet<String> = ["x", "y", "z"].into_iter().map(String::from).collect();
    assert_eq!(found, [expected]);
}
