//! A small applier of unified diffs (the `diff -u` format), enough for the
//! patches of this crate: every hunk must find its context and removed
//! lines exactly, at the line its header names or, failing that, at the
//! one place in the file where they occur; anything else is an error, so a
//! patch that no longer fits the sources stops the build instead of
//! producing a half-patched VM.
//!
//! Shared by the build script (`#[path]`) and the library's tests.

use std::fmt;

/// One file's changes in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The file's name, after the first path component (`a/` or `b/`).
    pub name: String,
    hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    /// 1-based line of the old file where the hunk starts.
    old_start: usize,
    /// The hunk's lines as they are before (context and removed lines).
    old: Vec<String>,
    /// The hunk's lines as they are after (context and added lines).
    new: Vec<String>,
}

/// Why a diff could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffError(pub String);

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DiffError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DiffError> {
    Err(DiffError(msg.into()))
}

/// Reads a unified diff into the changes of each file it names.
pub fn parse(text: &str) -> Result<Vec<FilePatch>, DiffError> {
    let mut files: Vec<FilePatch> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(path) = line.strip_prefix("+++ ") {
            let path = path.split('\t').next().unwrap_or("").trim();
            let name = match path.split_once('/') {
                Some((_, rest)) => rest,
                None => return err(format!("diff names '{path}' without a directory")),
            };
            // Only plain file names: a patch never writes outside the tree.
            if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.')
            {
                return err(format!("diff names '{path}', which is not a plain file"));
            }
            files.push(FilePatch {
                name: name.to_string(),
                hunks: Vec::new(),
            });
            i += 1;
        } else if let Some(header) = line.strip_prefix("@@ ") {
            let Some(file) = files.last_mut() else {
                return err("a hunk before any '+++' line");
            };
            let (old_start, old_len, new_len) = hunk_header(header)?;
            let (mut old, mut new) = (Vec::new(), Vec::new());
            i += 1;
            while old.len() < old_len || new.len() < new_len {
                let Some(l) = lines.get(i) else {
                    return err(format!(
                        "hunk at line {old_start} of {} ends early",
                        file.name
                    ));
                };
                match l.split_at_checked(1) {
                    _ if l.is_empty() => {
                        // `diff` writes an empty context line as a lone
                        // space; editors sometimes strip it.
                        old.push(String::new());
                        new.push(String::new());
                    }
                    Some((" ", rest)) => {
                        old.push(rest.to_string());
                        new.push(rest.to_string());
                    }
                    Some(("-", rest)) => old.push(rest.to_string()),
                    Some(("+", rest)) => new.push(rest.to_string()),
                    Some(("\\", _)) => {}
                    _ => return err(format!("unexpected line in a hunk of {}: {l}", file.name)),
                }
                i += 1;
            }
            if old.len() != old_len || new.len() != new_len {
                return err(format!(
                    "hunk at line {old_start} of {} has the wrong length",
                    file.name
                ));
            }
            file.hunks.push(Hunk {
                old_start,
                old,
                new,
            });
        } else {
            i += 1;
        }
    }
    if files.is_empty() {
        return err("no file in the diff");
    }
    Ok(files)
}

/// `-l,s +l,s @@`: the old start and the old and new lengths.
fn hunk_header(h: &str) -> Result<(usize, usize, usize), DiffError> {
    let bad = || DiffError(format!("bad hunk header '@@ {h}'"));
    let mut parts = h.split_whitespace();
    let old = parts
        .next()
        .and_then(|p| p.strip_prefix('-'))
        .ok_or_else(bad)?;
    let new = parts
        .next()
        .and_then(|p| p.strip_prefix('+'))
        .ok_or_else(bad)?;
    let range = |r: &str| -> Result<(usize, usize), DiffError> {
        match r.split_once(',') {
            Some((s, n)) => Ok((s.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?)),
            None => Ok((r.parse().map_err(|_| bad())?, 1)),
        }
    };
    let (old_start, old_len) = range(old)?;
    let (_, new_len) = range(new)?;
    Ok((old_start, old_len, new_len))
}

impl FilePatch {
    /// Applies the hunks to `text`, the file's whole content.
    pub fn apply(&self, text: &str) -> Result<String, DiffError> {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // Lines added minus lines removed by the hunks applied so far.
        let mut shift: isize = 0;
        for h in &self.hunks {
            let expected = (h.old_start.max(1) - 1) as isize + shift;
            let fits = |at: usize| {
                lines
                    .get(at..at + h.old.len())
                    .is_some_and(|w| w == h.old.as_slice())
            };
            let at = if expected >= 0 && fits(expected as usize) {
                expected as usize
            } else {
                let found: Vec<usize> = (0..=lines.len().saturating_sub(h.old.len()))
                    .filter(|&a| fits(a))
                    .collect();
                match found.as_slice() {
                    [one] => *one,
                    [] => {
                        return err(format!(
                            "{}: the hunk at line {} does not fit the sources",
                            self.name, h.old_start
                        ))
                    }
                    _ => {
                        return err(format!(
                            "{}: the hunk at line {} fits in {} places",
                            self.name,
                            h.old_start,
                            found.len()
                        ))
                    }
                }
            };
            lines.splice(at..at + h.old.len(), h.new.iter().cloned());
            shift += h.new.len() as isize - h.old.len() as isize;
        }
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff -u -r a/x.c b/x.c
--- a/x.c
+++ b/x.c
@@ -2,3 +2,4 @@
 two
-three
+THREE
+three and a half
 four
@@ -7,2 +8,2 @@
 seven
-eight
+EIGHT
";

    const FILE: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n";

    #[test]
    fn hunks_apply_where_their_headers_say() {
        let files = parse(DIFF).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "x.c");
        assert_eq!(
            files[0].apply(FILE).unwrap(),
            "one\ntwo\nTHREE\nthree and a half\nfour\nfive\nsix\nseven\nEIGHT\n"
        );
    }

    #[test]
    fn a_moved_hunk_is_found_once_and_only_once() {
        let files = parse(DIFF).unwrap();
        let moved = format!("zero\n{FILE}");
        assert!(files[0]
            .apply(&moved)
            .unwrap()
            .contains("THREE\nthree and a half"));
        // The same lines twice: ambiguous, so an error, not a guess.
        let twice = format!("{FILE}two\nthree\nfour\n");
        let shifted = format!("x\n{twice}");
        let e = files[0].apply(&shifted).unwrap_err();
        assert!(e.0.contains("places"), "{e}");
    }

    #[test]
    fn sources_that_changed_stop_the_build() {
        let files = parse(DIFF).unwrap();
        let e = files[0].apply("one\ntwo\n3\nfour\n").unwrap_err();
        assert!(e.0.contains("does not fit"), "{e}");
    }

    #[test]
    fn hostile_diffs_are_refused() {
        for bad in [
            "+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
            "+++ b/sub/x.c\n@@ -1 +1 @@\n-a\n+b\n",
            "+++ x.c\n@@ -1 +1 @@\n-a\n+b\n",
            "@@ -1 +1 @@\n-a\n+b\n",
            "+++ b/x.c\n@@ -1,5 +1,5 @@\n-a\n+b\n",
            "+++ b/x.c\n@@ -x +1 @@\n-a\n+b\n",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_patches_parse_and_name_only_lua_files() {
        for text in [
            include_str!("../patches/lua-5.4.9.diff"),
            include_str!("../patches/lua-5.5.1.diff"),
        ] {
            let files = parse(text).unwrap();
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "lbaselib.c",
                    "ldebug.c",
                    "ldebug.h",
                    "ldo.c",
                    "lgc.c",
                    "lgc.h",
                    "llex.c",
                    "lmem.c",
                    "lstate.c",
                    "lstate.h",
                    "lstring.c",
                    "lstring.h",
                    "lstrlib.c",
                    "ltable.c",
                    "ltablib.c",
                    "lualib.h",
                    "lundump.c",
                    "lutf8lib.c",
                    "lvm.c"
                ]
            );
        }
    }
}
