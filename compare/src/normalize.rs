//! Turning one runtime's log into lines that can be compared with the
//! other's: what is expected to differ between any two runs (handles,
//! addresses, where the runtime's own files live) is replaced by
//! placeholders, and lines only the runtime itself writes are set aside under
//! the rule that names them.

use std::collections::HashMap;

/// A log made comparable.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The lines left to compare.
    pub lines: Vec<String>,
    /// How many lines each rule set aside, by rule.
    pub set_aside: Vec<(&'static str, usize)>,
}

/// Where the two runtimes' own files are, so paths into them compare equal.
#[derive(Debug, Clone)]
pub struct Roots {
    /// The skynet build (`SKYNET_ROOT`).
    pub skynet: String,
    /// skyhold's repository (its `lualib/` and `service/`).
    pub skyhold: String,
}

/// Whether a line is one a rule sets aside.
type LineTest = fn(&str) -> bool;

/// Lines a runtime writes about itself, not about the service under test:
/// (rule name, test). Each is a deliberate difference written in
/// docs/migration.md.
const SET_ASIDE: &[(&str, LineTest)] = &[
    // skyhold runs the cluster service at boot; skynet a harbor service.
    ("runtime services", |l| {
        l.starts_with("LAUNCH clusterd") || l.starts_with("LAUNCH harbor ")
    }),
    // skyhold's boot notes (ignored config keys, hidden secrets...).
    ("skyhold boot notes", |l| l.starts_with("skyhold: ")),
];

/// Normalizes `raw`, one runtime's whole log.
pub fn normalize(raw: &str, roots: &Roots) -> Normalized {
    let mut out = Normalized::default();
    let mut handles: HashMap<String, usize> = HashMap::new();
    let mut in_traceback = false;
    for line in raw.lines() {
        let line = strip_source(line);
        if let Some(rule) = SET_ASIDE.iter().find(|(_, test)| test(line)) {
            match out.set_aside.iter_mut().find(|(name, _)| *name == rule.0) {
                Some((_, n)) => *n += 1,
                None => out.set_aside.push((rule.0, 1)),
            }
            continue;
        }
        // A traceback's frames inside the runtime's own library differ in
        // line numbers and in how the two loaders name functions; the
        // frames in the service's own files are what a user wrote.
        if line == "stack traceback:" {
            in_traceback = true;
            out.lines.push(line.to_string());
            continue;
        }
        if in_traceback {
            if line.starts_with('\t') {
                if frame_in_service(line, roots) {
                    out.lines.push(frame_location(line, roots));
                }
                continue;
            }
            in_traceback = false;
        }
        let line = line
            .replace(&roots.skynet, "<root>")
            .replace(&roots.skyhold, "<root>");
        let line = mask_library_lines(&line);
        let line = rename_handles(&line, &mut handles);
        out.lines.push(mask_addresses(&line));
    }
    out
}

/// Drops the `[:0000000a] ` a logger puts before a line: skyhold prefixes
/// `print` too (it goes through the logger), skynet does not.
fn strip_source(line: &str) -> &str {
    let b = line.as_bytes();
    if b.len() >= 12
        && b[0] == b'['
        && b[1] == b':'
        && b[10] == b']'
        && b[11] == b' '
        && b[2..10].iter().all(u8::is_ascii_hexdigit)
    {
        return &line[12..];
    }
    line
}

/// True for a traceback frame in a file that is neither runtime's library.
fn frame_in_service(frame: &str, roots: &Roots) -> bool {
    let f = frame.trim_start();
    let runtime_lib = [
        format!("{}/lualib/", roots.skynet),
        format!("{}/lualib/", roots.skyhold),
        format!("{}/service/", roots.skynet),
        format!("{}/service/", roots.skyhold),
    ];
    !(f.starts_with("[C]")
        || f.starts_with("(...tail calls...)")
        || f.starts_with("sandbox:")
        || f.starts_with("task:")
        || runtime_lib.iter().any(|p| f.starts_with(p.as_str())))
}

/// A frame reduced to its file and line: the function's name in a frame
/// is the loader's guess (skyhold strips local names from its own code).
fn frame_location(frame: &str, roots: &Roots) -> String {
    let f = frame
        .trim_start()
        .replace(&roots.skynet, "<root>")
        .replace(&roots.skyhold, "<root>");
    let at = f.find(": in ").map(|i| &f[..i]).unwrap_or(&f);
    format!("\t{at}")
}

/// `<root>/lualib/skynet.lua:720:` becomes `<root>/lualib/skynet.lua:#:`: an
/// error raised inside a runtime's library names a line of that runtime's
/// file, which the two do not share.
fn mask_library_lines(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("<root>/") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        // The path ends at a space, a quote or the `>` closing `<function ...>`
        // (looked for past `<root>/`, whose own `>` is not an end).
        let end = tail[7..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '\'')
            .map_or(tail.len(), |i| i + 7);
        let path = &tail[..end];
        let in_library = path.starts_with("<root>/lualib/") || path.starts_with("<root>/service/");
        match path.find(".lua:") {
            Some(dot) if in_library => {
                let digits = path[dot + 5..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                out.push_str(&path[..dot + 5]);
                out.push('#');
                out.push_str(&path[dot + 5 + digits..]);
            }
            _ => out.push_str(path),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `:0000000a`-style handles become `:H1`, `:H2`… in order of appearance,
/// so the same service has the same name in both logs (skyhold's handles
/// are not sequential).
fn rename_handles(line: &str, seen: &mut HashMap<String, usize>) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' && i + 9 <= b.len() && b[i + 1..i + 9].iter().all(u8::is_ascii_hexdigit) {
            let next_is_hex = b.get(i + 9).is_some_and(u8::is_ascii_hexdigit);
            if !next_is_hex {
                let key = line[i + 1..i + 9].to_ascii_lowercase();
                let n = seen.len() + 1;
                let id = *seen.entry(key).or_insert(n);
                out.push_str(&format!(":H{id}"));
                i += 9;
                continue;
            }
        }
        let ch = line[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// `0x7f3a…` (a pointer printed by `tostring`) becomes `0x?`.
fn mask_addresses(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0'
            && b.get(i + 1) == Some(&b'x')
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            out.push_str("0x?");
            i += 2;
            while b.get(i).is_some_and(u8::is_ascii_hexdigit) {
                i += 1;
            }
            continue;
        }
        let ch = line[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The line with every run of digits replaced by `#`: for the looser
/// comparison, where times and counts may differ.
pub fn mask_numbers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_digits = false;
    for ch in line.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Roots {
        Roots {
            skynet: "/opt/skynet".into(),
            skyhold: "/src/skyhold".into(),
        }
    }

    #[test]
    fn handles_are_named_by_first_appearance_and_prefixes_dropped() {
        let a = normalize(
            "[:00000008] LAUNCH snlua t\n[:00000009] KILL :00000008\n",
            &roots(),
        );
        let b = normalize(
            "[:00d3b236] LAUNCH snlua t\n[:0a000001] KILL :00d3b236\n",
            &roots(),
        );
        assert_eq!(a.lines, vec!["LAUNCH snlua t", "KILL :H1"]);
        assert_eq!(a.lines, b.lines);
    }

    #[test]
    fn runtime_lines_are_set_aside_by_rule() {
        let n = normalize(
            "[:01] x\nLAUNCH clusterd \nLAUNCH harbor 0 4\nskyhold: ignoring key\nhello\n",
            &roots(),
        );
        assert_eq!(n.lines, vec!["[:01] x", "hello"]);
        assert_eq!(
            n.set_aside,
            vec![("runtime services", 2), ("skyhold boot notes", 1)]
        );
    }

    #[test]
    fn tracebacks_keep_only_the_services_own_frames() {
        let log = "stack traceback:\n\t/opt/skynet/test/t.lua:15: in upvalue 'test'\n\
                   \t/opt/skynet/lualib/skynet.lua:1065: in function <x>\n\
                   \t[C]: in global 'xpcall'\n\tsandbox:20: in function 'xpcall'\n\
                   \ttask:6: in function <task:5>\n\
                   \t/src/skyhold/lualib/skynet.lua:426: in upvalue '?'\nafter\n";
        let n = normalize(log, &roots());
        assert_eq!(
            n.lines,
            vec!["stack traceback:", "\t<root>/test/t.lua:15", "after"]
        );
    }

    #[test]
    fn addresses_and_numbers_are_masked() {
        let n = normalize("thread: 0x7efe340bbe68 session: 2", &roots());
        assert_eq!(n.lines, vec!["thread: 0x? session: 2"]);
        assert_eq!(mask_numbers("TIMER 54+10 at 3"), "TIMER #+# at #");
        let n = normalize(
            "false\t/opt/skynet/lualib/skynet.lua:720: call failed <x /opt/skynet/test/t.lua:3>",
            &roots(),
        );
        assert_eq!(
            n.lines,
            vec!["false\t<root>/lualib/skynet.lua:#: call failed <x <root>/test/t.lua:3>"]
        );
    }
}
