//! The layering of DESIGN.md, machine-checked: no import cycle between the top-level
//! modules of `src/` (a `crate::<module>` path anywhere outside a test module counts).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn sources(dir: &Path, relative: &str, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let relative = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        if path.is_dir() {
            sources(&path, &relative, found);
        } else if relative.ends_with(".rs") {
            found.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The top-level modules a source names through `crate::a` or `crate::{a, b::c}`.
fn named_modules(source: &str) -> BTreeSet<String> {
    let code = without_test_module(source);
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let group = match rest.strip_prefix('{') {
            Some(inside) => inside.split('}').next().unwrap_or_default(),
            None => rest,
        };
        let paths: Vec<&str> = if rest.starts_with('{') {
            group.split(',').collect()
        } else {
            vec![group]
        };
        for path in paths {
            let module: String = path
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() && module != "self" && module != "super" {
                named.insert(module);
            }
        }
    }
    named
}

/// `source` up to its inline test module (`#[cfg(test)]` then `mod … {`), if any.
fn without_test_module(source: &str) -> &str {
    for (at, _) in source.match_indices("#[cfg(test)]") {
        let next = source[at + "#[cfg(test)]".len()..].trim_start();
        let line = next.lines().next().unwrap_or_default();
        if line.starts_with("mod ") && line.trim_end().ends_with('{') {
            return &source[..at];
        }
    }
    source
}

fn import_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, "", &mut files);
    let mut graph = Graph::new();
    for (relative, source) in files {
        let top = relative.split('/').next().unwrap().trim_end_matches(".rs");
        if top == "lib" || top == "main" {
            continue;
        }
        let edges = graph.entry(top.to_owned()).or_default();
        edges.extend(named_modules(&source).into_iter().filter(|m| m != top));
    }
    graph
}

/// A cycle through `node`, as the modules on it, if the graph has one reachable from it.
fn cycle_from(
    graph: &Graph,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|n| n == node) {
        let mut cycle = path[start..].to_vec();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, next, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node.to_owned());
    None
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let graph = import_graph();
    assert!(
        graph.len() > 10,
        "the source tree was read: {:?}",
        graph.keys()
    );
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_check_sees_a_cycle_when_there_is_one() {
    let mut graph = Graph::new();
    graph
        .entry("config".into())
        .or_default()
        .insert("session".into());
    graph
        .entry("session".into())
        .or_default()
        .insert("config".into());
    let cycle = cycle_from(&graph, "config", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(
        cycle,
        Some(vec!["config".into(), "session".into(), "config".into()])
    );
    assert_eq!(
        named_modules(
            "use crate::{auth0::jwks, clock::Clock};\n#[cfg(test)]\nmod fixtures;\nlet x = crate::tuning::X;\n#[cfg(test)]\nmod tests {\nuse crate::http;"
        ),
        BTreeSet::from(["auth0".into(), "clock".into(), "tuning".into()])
    );
}
