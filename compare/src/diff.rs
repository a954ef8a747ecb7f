//! A line diff (longest common subsequence) of two normalized logs.

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// In both logs.
    Same(String),
    /// Only in skynet's log.
    OnlySkynet(String),
    /// Only in skyhold's log.
    OnlySkyhold(String),
}

/// Longest logs compared line by line; the rest is cut (the table is
/// quadratic in the lengths).
pub const MAX_LINES: usize = 3000;

/// The edits that turn `a` (skynet's lines) into `b` (skyhold's).
pub fn diff(a: &[String], b: &[String]) -> Vec<Edit> {
    let (a, b) = (&a[..a.len().min(MAX_LINES)], &b[..b.len().min(MAX_LINES)]);
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(Edit::Same(a[i].clone()));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(Edit::OnlySkyhold(b[j].clone()));
            j += 1;
        } else {
            out.push(Edit::OnlySkynet(a[i].clone()));
            i += 1;
        }
    }
    out
}

/// True when the diff has no line on one side only.
pub fn is_same(edits: &[Edit]) -> bool {
    edits.iter().all(|e| matches!(e, Edit::Same(_)))
}

/// The differing lines with `context` lines around each, `-` for skynet's,
/// `+` for skyhold's, as text.
pub fn render(edits: &[Edit], context: usize) -> String {
    let changed: Vec<bool> = edits.iter().map(|e| !matches!(e, Edit::Same(_))).collect();
    let near = |k: usize| {
        let lo = k.saturating_sub(context);
        let hi = (k + context + 1).min(edits.len());
        changed[lo..hi].iter().any(|c| *c)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, e) in edits.iter().enumerate() {
        if !near(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            skipped = false;
        }
        let (mark, text) = match e {
            Edit::Same(t) => (' ', t),
            Edit::OnlySkynet(t) => ('-', t),
            Edit::OnlySkyhold(t) => ('+', t),
        };
        out.push_str(&format!("{mark} {text}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn common_lines_are_kept_and_changes_marked() {
        let d = diff(&lines("a,b,c,d"), &lines("a,x,c,d,e"));
        assert_eq!(
            d,
            vec![
                Edit::Same("a".into()),
                Edit::OnlySkyhold("x".into()),
                Edit::OnlySkynet("b".into()),
                Edit::Same("c".into()),
                Edit::Same("d".into()),
                Edit::OnlySkyhold("e".into()),
            ]
        );
        assert!(!is_same(&d));
        assert!(is_same(&diff(&lines("a,b"), &lines("a,b"))));
    }

    #[test]
    fn rendering_keeps_context_only() {
        let a = lines("1,2,3,4,5,6,7,8");
        let b = lines("1,2,3,4,5,6,7,9");
        let text = render(&diff(&a, &b), 1);
        assert_eq!(text, "  ...\n  7\n+ 9\n- 8\n");
    }
}
