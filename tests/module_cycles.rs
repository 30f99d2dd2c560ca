//! No import cycles between the crate's modules, and no function longer
//! than the driver's and the crate's limits.
//!
//! Reads every file under `src/` (the library: `src/main.rs` is another
//! crate), takes each file as one module (`src/a/b.rs` and `src/a/b/mod.rs`
//! are `crate::a::b`), and draws an edge from a file to the module that
//! each of its `crate::`, `super::` and `self::` paths leads to (the
//! longest prefix of the path that names a file; `use` trees with braces
//! are expanded; `super::` inside an inline `mod x { ... }` means the file
//! itself). Declaring a child (`mod x;`) is containment, not an import.
//! Test code is left out (an inline `#[cfg(test)] mod x { ... }` and the
//! file of a `#[cfg(test)] mod x;`): a test may tie two modules together
//! on purpose. The test fails naming every cycle it finds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module path of a file below `src/` (`["probe", "udp"]`), or `None`
/// for a file outside the library.
fn module_of(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    if parts.is_empty() && stem == "main" {
        return None;
    }
    if parts.is_empty() && stem == "lib" {
        return Some(vec![]);
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    Some(parts)
}

/// The code of a file without comments and without the contents of string
/// and character literals (braces and paths in them are not code); the
/// line breaks stay where they were.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if b[i] == b'\n' {
                            out.push('\n');
                        }
                        i += 1;
                    }
                }
                out.push(' ');
            }
            b'r' if raw_string_start(b, i).is_some() => {
                let (hashes, open) = raw_string_start(b, i).unwrap();
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i = open + 1;
                while i < b.len() && !b[i..].starts_with(&close) {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
                i += close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{7f}'), or a lifetime.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(e) => {
                        out.push_str("' '");
                        i = e + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// At `i`, `r"` or `r#"` (not inside an identifier): the number of hashes
/// and the index of the opening quote.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i + 1;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((j - i - 1, j))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Semi,
    Other(char),
}

fn tokens(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphanumeric() || ch == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[s..i].iter().collect()));
            continue;
        }
        match ch {
            ':' if c.get(i + 1) == Some(&':') => {
                out.push(Tok::Colons);
                i += 2;
                continue;
            }
            '{' => out.push(Tok::Open),
            '}' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            ';' => out.push(Tok::Semi),
            c if c.is_whitespace() => {}
            c => out.push(Tok::Other(c)),
        }
        i += 1;
    }
    out
}

/// Expand the use tree starting at `toks[*i]` with `prefix` into full
/// paths; stops after the tree (at `,`, `}` or `;`, not consumed).
fn use_tree(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(s)) if s == "as" => {
                *i += 2; // `as name`
                out.push(path);
                return;
            }
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
            }
            Some(Tok::Colons) => *i += 1,
            Some(Tok::Open) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
            }
            Some(Tok::Other('*')) => {
                *i += 1;
                out.push(path);
                return;
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// What a file says of other modules.
#[derive(Debug, Default)]
struct Refs {
    /// Every `crate::`/`super::`/`self::` path outside test code, each
    /// with the inline modules it stands in (for `super::` and `self::`).
    paths: Vec<(Vec<String>, Vec<String>)>,
    /// Children declared `#[cfg(test)] mod x;`.
    test_children: Vec<String>,
}

/// Whether `toks[i..]` is `#[cfg(test)]`.
fn is_cfg_test(toks: &[Tok], i: usize) -> bool {
    let want = [
        Tok::Other('#'),
        Tok::Other('['),
        Tok::Ident("cfg".into()),
        Tok::Other('('),
        Tok::Ident("test".into()),
        Tok::Other(')'),
        Tok::Other(']'),
    ];
    toks.get(i..i + want.len()) == Some(&want[..])
}

fn paths_of(code: &str) -> Refs {
    let toks = tokens(code);
    let mut refs = Refs::default();
    let out = &mut refs.paths;
    // Inline modules open at brace depth d: (name, d).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let here = |inline: &Vec<(String, usize)>| inline.iter().map(|(n, _)| n.clone()).collect();
    while i < toks.len() {
        match &toks[i] {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
            }
            Tok::Other('#') if is_cfg_test(&toks, i) => {
                // `#[cfg(test)] mod x;` or `#[cfg(test)] mod x { ... }`:
                // not part of the module graph.
                let j = i + 7;
                if let (Some(Tok::Ident(m)), Some(Tok::Ident(name))) =
                    (toks.get(j), toks.get(j + 1))
                    && m == "mod"
                {
                    match toks.get(j + 2) {
                        Some(Tok::Semi) => {
                            refs.test_children.push(name.clone());
                            i = j + 3;
                            continue;
                        }
                        Some(Tok::Open) => {
                            let mut d = 0usize;
                            let mut k = j + 2;
                            while k < toks.len() {
                                match toks[k] {
                                    Tok::Open => d += 1,
                                    Tok::Close => {
                                        d -= 1;
                                        if d == 0 {
                                            break;
                                        }
                                    }
                                    _ => {}
                                }
                                k += 1;
                            }
                            i = k + 1;
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(k) if k == "use" => {
                let mut j = i + 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut j, &[], &mut paths);
                for p in paths {
                    if p.first()
                        .is_some_and(|s| s == "crate" || s == "super" || s == "self")
                    {
                        out.push((p, here(&inline)));
                    }
                }
                i = j;
                continue;
            }
            Tok::Ident(k) if k == "crate" || k == "super" || k == "self" => {
                // A path in code: `crate::a::b::f(...)`.
                let after_colons = i > 0 && toks[i - 1] == Tok::Colons;
                if !after_colons && toks.get(i + 1) == Some(&Tok::Colons) {
                    let mut p = vec![k.clone()];
                    let mut j = i + 1;
                    while toks.get(j) == Some(&Tok::Colons) {
                        match toks.get(j + 1) {
                            Some(Tok::Ident(s)) => {
                                p.push(s.clone());
                                j += 2;
                            }
                            _ => break,
                        }
                    }
                    out.push((p, here(&inline)));
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

/// The module graph: per module (file), the modules its paths lead to.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        format!("crate::{}", m.join("::"))
    }
}

/// The graph of a crate given as (module path, source) per file.
fn graph(files: &[(Vec<String>, String)]) -> Graph {
    let refs: Vec<Refs> = files.iter().map(|(_, s)| paths_of(&code_only(s))).collect();
    // Test-only files, and everything below them.
    let tests: Vec<Vec<String>> = files
        .iter()
        .zip(&refs)
        .flat_map(|((m, _), r)| {
            r.test_children.iter().map(move |c| {
                let mut t = m.clone();
                t.push(c.clone());
                t
            })
        })
        .collect();
    let is_test = |m: &[String]| tests.iter().any(|t| m.starts_with(t));
    let known: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g = Graph::new();
    for ((module, _), refs) in files.iter().zip(refs) {
        if is_test(module) {
            continue;
        }
        let from = name(module);
        let edges = g.entry(from.clone()).or_default();
        for (path, inline) in refs.paths {
            // Where the path starts, as a module path (inline modules of
            // this file included).
            let mut at: Vec<String> = module.clone();
            at.extend(inline.iter().cloned());
            let mut rest = path.as_slice();
            match rest[0].as_str() {
                "crate" => {
                    at.clear();
                    rest = &rest[1..];
                }
                _ => {
                    while let Some(s) = rest.first() {
                        match s.as_str() {
                            "self" => {}
                            "super" => {
                                at.pop();
                            }
                            _ => break,
                        }
                        rest = &rest[1..];
                    }
                }
            }
            at.extend(rest.iter().cloned());
            // The longest prefix that is a file.
            while !at.is_empty() && !known.contains(&at) {
                at.pop();
            }
            let to = name(&at);
            if to != from {
                edges.insert(to);
            }
        }
    }
    g
}

/// Every cycle of the graph, one per strongly connected component of more
/// than one module, as a closed walk `a -> b -> ... -> a`.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iteratively simple enough for a few hundred nodes.
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        comps: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[v].min(t.low[w]);
                t.low.insert(v, l);
            } else if t.on.contains(w) {
                let l = t.low[v].min(t.index[w]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            t.comps.push(comp);
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        comps: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    let mut out = Vec::new();
    for comp in t.comps.into_iter().filter(|c| c.len() > 1) {
        let inside: BTreeSet<&str> = comp.iter().copied().collect();
        let start = *inside.iter().next().unwrap();
        // Shortest way back to `start` inside the component (BFS).
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'bfs: while let Some(v) = queue.pop_front() {
            for w in g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !inside.contains(w) {
                    continue;
                }
                if w == start {
                    last = Some(v);
                    break 'bfs;
                }
                if !prev.contains_key(w) {
                    prev.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        let mut walk = vec![start.to_string()];
        let mut v = last.expect("a component of several modules has a cycle");
        let mut back = vec![v.to_string()];
        while v != start {
            v = prev[v];
            back.push(v.to_string());
        }
        back.pop();
        walk.extend(back.into_iter().rev());
        walk.push(start.to_string());
        if comp.len() > walk.len() - 1 {
            let mut all: Vec<&str> = comp.clone();
            all.sort();
            let last = walk.pop().unwrap();
            walk.push(format!("{last} (a cycle of a knot of: {})", all.join(", ")));
        }
        out.push(walk);
    }
    out
}

fn crate_files(root: &Path) -> Vec<(Vec<String>, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::from(root)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Some(m) = module_of(p.strip_prefix(root).unwrap()) {
                files.push((m, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn no_import_cycles_between_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = crate_files(&root);
    assert!(files.len() > 50, "read {} files under src/", files.len());
    let g = graph(&files);
    // The graph is the real one: edges the code is known to have.
    assert!(g["crate::probe::tcp_syn"].contains("crate::probe"));
    assert!(g["crate::probe::tcp_syn"].contains("crate::wire::ip"));
    assert!(g["crate::run::send"].contains("crate::engine::permutation"));
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import cycles between modules:\n{}",
        found
            .iter()
            .map(|c| format!("  {}", c.join(" -> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The check itself, on small crates: it finds cycles through `use`
/// trees, `super::` and code paths, and not where there are none.
#[test]
fn the_check_finds_cycles_and_only_cycles() {
    let crate_of = |files: &[(&str, &str)]| -> Vec<(Vec<String>, String)> {
        files
            .iter()
            .map(|(f, s)| (module_of(Path::new(f)).unwrap(), s.to_string()))
            .collect()
    };
    // Twins that use each other through `super::`.
    let twins = crate_of(&[
        ("lib.rs", "pub mod probe;"),
        ("probe/mod.rs", "pub mod tcp; pub mod tcp6;"),
        ("probe/tcp.rs", "fn f() { super::tcp6::classify(); }"),
        (
            "probe/tcp6.rs",
            "use super::{Probe, tcp::{TTL, WINDOW as W}};",
        ),
    ]);
    assert_eq!(
        cycles(&graph(&twins)),
        vec![vec![
            "crate::probe::tcp".to_string(),
            "crate::probe::tcp6".into(),
            "crate::probe::tcp".into(),
        ]]
    );
    // A longer cycle through `crate::` paths.
    let ring = crate_of(&[
        ("lib.rs", ""),
        ("a.rs", "use crate::b::X;"),
        ("b.rs", "fn f() -> crate::c::Y { todo!() }"),
        ("c.rs", "use crate::{a, d};"),
        ("d.rs", ""),
    ]);
    let c = cycles(&graph(&ring));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].len(), 4, "{c:?}");
    // No cycle: a parent facade, its children using it, comments, strings
    // and inline test modules whose `super::` is their own file.
    let fine = crate_of(&[
        ("lib.rs", "pub mod probe;"),
        (
            "probe/mod.rs",
            "pub mod tcp; static M: &[&tcp::Tcp] = &[]; // crate::probe::tcp::x\n\
             #[cfg(test)] mod tests { use crate::probe::tcp::T; }",
        ),
        (
            "probe/tcp.rs",
            "use super::Probe; const S: &str = \"crate::probe::mod\"; \
             #[cfg(test)] mod tests { use super::*; fn t() { let c = '{'; } } \
             #[cfg(test)] mod more;",
        ),
        ("probe/tcp/more.rs", "use crate::probe::tcp::T;"),
    ]);
    let g = graph(&fine);
    assert!(cycles(&g).is_empty(), "{g:?}");
    assert_eq!(
        g["crate::probe::tcp"],
        BTreeSet::from(["crate::probe".to_string()])
    );
    assert!(g["crate::probe"].is_empty(), "{g:?}");
    assert!(!g.contains_key("crate::probe::tcp::more"), "test-only file");
}

/// Each function of a file's code (see [`code_only`]): its name, the line
/// it starts on (from 1) and its length in lines, from `fn` to the closing
/// brace of its body.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let name: String = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // a `fn(..)` type
        }
        // The body: the first brace after the signature, unless a `;`
        // (a declaration in a trait) comes first.
        let Some(open) = code[i..].find(['{', ';']).map(|q| i + q) else {
            break;
        };
        if b[open] == b';' {
            continue;
        }
        let mut depth = 0;
        let mut end = open;
        for (k, &c) in b.iter().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line = code[..at].matches('\n').count() + 1;
        let lines = code[at..=end].matches('\n').count() + 1;
        out.push((name, line, lines));
    }
    out
}

#[test]
fn no_function_is_longer_than_its_limit() {
    // The driver (`src/run/`) only opens sockets, starts threads and feeds
    // the scan core: no function of it over 200 lines; none in the crate
    // over 300.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = crate_files(&root);
    let mut longest = (0, String::new());
    let mut over = Vec::new();
    for (module, src) in &files {
        let limit = if module.first().is_some_and(|m| m == "run") {
            200
        } else {
            300
        };
        for (f, line, lines) in functions(&code_only(src)) {
            let place = format!("{}::{f} (line {line}): {lines} lines", name(module));
            if lines > limit {
                over.push(format!("  {place}, over {limit}"));
            }
            longest = longest.max((lines, place));
        }
    }
    assert!(longest.0 > 100, "the check reads functions: {longest:?}");
    assert!(over.is_empty(), "functions too long:\n{}", over.join("\n"));
}

#[test]
fn function_lengths_are_counted_from_fn_to_its_closing_brace() {
    let code = code_only(
        "trait T {\n    fn decl(&self);\n}\nfn a(x: fn(u8)) -> u8 {\n    let s = \"}\n}\";\n    0\n}\nfn b() {}\n",
    );
    assert_eq!(
        functions(&code),
        [("a".to_string(), 4, 5), ("b".to_string(), 9, 1)]
    );
}
