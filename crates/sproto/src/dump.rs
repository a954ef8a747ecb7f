//! `sproto.core.dumpproto`: the schema as text, line by line, in the
//! layout skynet prints.

use crate::schema::{lossy, Field, Sproto, T_BOOLEAN, T_DOUBLE, T_INTEGER, T_STRING, T_STRUCT};

fn type_name(sp: &Sproto, f: &Field) -> String {
    match f.ty {
        T_STRUCT => f.st.map(|i| lossy(&sp.types[i].name)).unwrap_or_default(),
        T_INTEGER if f.extra != 0 => "decimal".into(),
        T_INTEGER => "integer".into(),
        T_BOOLEAN => "boolean".into(),
        T_STRING if f.extra == 1 => "binary".into(),
        T_STRING => "string".into(),
        T_DOUBLE => "double".into(),
        _ => "invalid".into(),
    }
}

/// The lines of the dump of `sp`.
pub fn lines(sp: &Sproto) -> Vec<String> {
    let mut out = vec![format!("=== {} types ===", sp.types.len())];
    for t in &sp.types {
        out.push(lossy(&t.name));
        for f in &t.fields {
            let mut l = format!(
                "\t{} ({}) {}{}",
                lossy(&f.name),
                f.tag,
                if f.array { "*" } else { "" },
                type_name(sp, f)
            );
            if f.ty == T_INTEGER && f.extra > 0 {
                l.push_str(&format!("({})", f.extra));
            }
            if f.key >= 0 {
                l.push_str(&format!(" key[{}]", f.key));
                if f.map {
                    let value_tag =
                        f.st.and_then(|i| sp.types[i].fields.get(1))
                            .map_or(0, |v| v.tag);
                    l.push_str(&format!(" value[{value_tag}]"));
                }
            }
            out.push(l);
        }
    }
    out.push(format!("=== {} protocol ===", sp.protocols.len()));
    for p in &sp.protocols {
        let req = p
            .request
            .map_or("(null)".to_string(), |i| lossy(&sp.types[i].name));
        let mut l = format!("\t{} ({}) request:{req}", lossy(&p.name), p.tag);
        if let Some(r) = p.response {
            l.push_str(&format!(" response:{}", lossy(&sp.types[r].name)));
        } else if p.confirm {
            l.push_str(" response nil");
        }
        out.push(l);
    }
    out
}
