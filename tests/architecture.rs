//! The shape of the house, checked: within each crate the top-level
//! modules import one another without loops (so each layer can be read
//! with only the layers below it in mind), and no source file grows past
//! what one can hold in one's head. ARCHITECTURE.md draws the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of code (before a file's unit tests) past which a file must be
/// split, or named here with the reason it is one concern read top to
/// bottom.
const MAX_LINES: usize = 800;

/// Files allowed past [`MAX_LINES`], and why.
const LONG_FILES: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's text up to its unit tests (`#[cfg(test)]` at the start of a
/// line), which may import anything.
fn code_of(text: &str) -> &str {
    match text.find("\n#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// `code` without comments (doc links name modules without using them).
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file of a crate's `src` belongs to (`None` for
/// the crate root, which re-exports everything).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The top-level modules of the crate that `code` names through `crate::`,
/// in paths or in `use crate::{a, b::c}` groups.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the first segment of each
            // item at the group's top level.
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !word.is_empty() {
                            found.insert(std::mem::take(&mut word));
                        }
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start && depth == 0 {
                    if c.is_alphanumeric() || c == '_' {
                        word.push(c);
                        continue;
                    }
                    if !word.is_empty() {
                        found.insert(std::mem::take(&mut word));
                        item_start = false;
                    }
                }
            }
            if !word.is_empty() {
                found.insert(word);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

/// The import graph of a crate's top-level modules.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(m) = module_of(src, f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        let mut deps = imports(&without_comments(code_of(&text)), &modules);
        deps.remove(&m);
        g.entry(m).or_default().extend(deps);
    }
    g
}

/// A loop in `g`, as the modules along it, if there is one.
fn find_loop(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(c) = visit(m, g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_crates_modules_import_one_another_without_loops() {
    let mut loops = Vec::new();
    for krate in ["core", "lua", "net", "cluster", "pack"] {
        let g = graph(&root().join("crates").join(krate).join("src"));
        if let Some(c) = find_loop(&g) {
            loops.push(format!("crates/{krate}: {}", c.join(" -> ")));
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn no_source_file_is_longer_than_one_can_hold_in_ones_head() {
    let mut long = Vec::new();
    let dirs = ["crates/core/src", "crates/lua/src", "crates/net/src"];
    let more = ["crates/cluster/src", "crates/pack/src", "src", "bench/src"];
    for dir in dirs.iter().chain(more.iter()) {
        for f in sources(&root().join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            let n = code_of(&text).lines().count();
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            if n > MAX_LINES && !LONG_FILES.iter().any(|(p, _)| *p == rel) {
                long.push(format!("{rel}: {n} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these along their seams, or name them in LONG_FILES with why:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_find_what_they_look_for() {
    let modules: BTreeSet<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let code = "use crate::{a, b::{x, y}, c::z};\nfn f() { crate::d::g(); }\n";
    assert_eq!(imports(code, &modules), modules);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), BTreeSet::new());
    assert_eq!(find_loop(&g), None);
    g.insert("c".into(), ["a".to_string()].into());
    assert_eq!(
        find_loop(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        code_of("fn f() {}\n#[cfg(test)]\nmod tests {}"),
        "fn f() {}"
    );
}
