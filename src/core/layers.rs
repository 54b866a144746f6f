//! The core's modules are layered: each imports only modules below it. This
//! test reads every file under src/core, collects the core modules it
//! names outside its test section (`crate::core::x`, `super::x`), and fails
//! on any cycle, printing it.

use std::collections::{BTreeMap, BTreeSet};

/// Module name → the core modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The part of a file that is not its unit tests (`#[cfg(test)] mod tests`
/// at the bottom, STYLE rule 2), without comments.
fn code_of(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut code = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if t.starts_with("#[cfg(test)]") && next.starts_with("mod tests") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The identifiers that follow `prefix` in `code`: `prefix x` or
/// `prefix {x, y::z}` (the first segment of each item of a group).
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Items at the group's top level only.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

/// The import graph of `files` (module name, source).
fn graph(files: &[(String, String)]) -> Graph {
    let names: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    files
        .iter()
        .map(|(name, source)| {
            let code = code_of(source);
            let mut deps = named_after(&code, "crate::core::");
            deps.extend(named_after(&code, "super::"));
            deps.retain(|d| d != name && names.contains(d.as_str()));
            (name.clone(), deps)
        })
        .collect()
}

/// A cycle in `g`, as the path that closes it, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for dep in g.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(g, dep, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

/// Every module file of src/core but this one and mod.rs.
fn core_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/core is readable") {
        let path = entry.expect("a directory entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "mod" && stem != "layers" {
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            files.push((stem.to_string(), source));
        }
    }
    files
}

#[test]
fn no_core_module_imports_one_that_imports_it_back() {
    let files = core_files();
    assert!(files.len() > 10, "found the core's files");
    let g = graph(&files);
    assert!(
        g["conn"].contains("hub") && g["hub"].contains("exchange"),
        "the graph sees imports: {g:?}"
    );
    if let Some(cycle) = find_cycle(&g) {
        panic!("import cycle in src/core: {}", cycle.join(" → "));
    }
}

#[test]
fn a_cycle_through_a_group_import_or_super_is_found() {
    let file = |n: &str, s: &str| (n.to_string(), s.to_string());
    let files = [
        file("a", "use crate::core::{b::B, wire};\n"),
        file("b", "use super::c::C;\n"),
        file(
            "c",
            "// use crate::core::a; (a comment)\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::core::a;\n}\n",
        ),
        file("wire", ""),
    ];
    assert_eq!(
        find_cycle(&graph(&files)),
        None,
        "comments and tests are not imports"
    );
    let mut files = files.to_vec();
    files[2].1.insert_str(0, "fn g() { crate::core::a::f() }\n");
    assert_eq!(
        find_cycle(&graph(&files)),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
