//! The layers of the house, read from the code: which top-level module of `src/` names
//! which (`crate::x`), outside the `#[cfg(test)] mod tests` blocks. They form no circle,
//! the faces never name each other, and the core names no face.
//!
//! `cargo test --test api layers -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `path` (or `path` itself).
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

/// The modules a file's own code (its unit tests left out) names as `crate::x`.
fn named(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    code.match_indices("crate::")
        .filter_map(|(at, m)| {
            let rest = &code[at + m.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            modules.contains(&name).then_some(name)
        })
        .collect()
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph = Graph::new();
    for m in &modules {
        let path = if src.join(m).is_dir() {
            src.join(m)
        } else {
            src.join(format!("{m}.rs"))
        };
        let mut edges = BTreeSet::new();
        for file in sources(&path) {
            edges.extend(named(&std::fs::read_to_string(file).unwrap(), &modules));
        }
        edges.remove(m);
        graph.insert(m.clone(), edges);
    }
    graph
}

/// A circle through `from`, if the graph has one.
fn circle(graph: &Graph, from: &str, path: &mut Vec<String>) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == from) {
        let mut c = path[at..].to_vec();
        c.push(from.to_owned());
        return Some(c);
    }
    path.push(from.to_owned());
    for next in graph.get(from).into_iter().flatten() {
        if let Some(c) = circle(graph, next, path) {
            return Some(c);
        }
    }
    path.pop();
    None
}

#[test]
fn the_top_level_modules_form_no_circle() {
    let graph = graph();
    for (m, edges) in &graph {
        println!(
            "{m} -> {}",
            edges.iter().cloned().collect::<Vec<_>>().join(" ")
        );
    }
    assert!(graph.len() > 10, "the modules of src/ were read: {graph:?}");
    assert!(
        graph["server"].contains("web") && graph["web"].contains("directory"),
        "the edges were read: {graph:?}"
    );
    for m in graph.keys() {
        if let Some(c) = circle(&graph, m, &mut Vec::new()) {
            panic!("a circle between modules: {}", c.join(" -> "));
        }
    }
}

#[test]
fn faces_never_name_each_other_and_the_core_names_no_face() {
    let graph = graph();
    let faces = ["ldap", "oidc", "web"];
    for face in faces {
        for other in faces.iter().filter(|f| **f != face) {
            assert!(!graph[face].contains(*other), "{face} names {other}");
        }
    }
    for inner in ["auth", "directory", "domain", "store", "http", "catalogue"] {
        for face in faces {
            assert!(
                !graph[inner].contains(face),
                "{inner} names the face {face}"
            );
        }
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut g = Graph::new();
    g.insert("a".into(), ["b".to_owned()].into());
    g.insert("b".into(), ["c".to_owned()].into());
    g.insert("c".into(), ["a".to_owned()].into());
    assert_eq!(
        circle(&g, "a", &mut Vec::new()),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.insert("c".into(), BTreeSet::new());
    assert_eq!(circle(&g, "a", &mut Vec::new()), None);
}
