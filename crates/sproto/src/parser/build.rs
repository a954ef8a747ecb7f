//! From matched items to the schema binary: the checks skynet's parser
//! makes (redefinitions, undefined types, map definitions), in its order
//! and with its messages, and the bytes it writes.

use super::grammar::{Cap, Item, Num, Sub, Target};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One field as the parser keeps it.
#[derive(Debug, Clone)]
struct FieldDef {
    name: String,
    tag: Num,
    array: bool,
    typename: String,
    decimal: Option<Cap>,
    key: Option<Cap>,
}

/// One protocol as the parser keeps it.
#[derive(Debug, Clone, Default)]
struct ProtoDef {
    tag: Option<Num>,
    request: Option<String>,
    response: Option<String>,
    confirm: bool,
}

#[derive(Default)]
struct All {
    types: HashMap<String, Vec<FieldDef>>,
    protocols: Vec<(String, ProtoDef)>,
}

const ASSERT: &str = "assertion failed!";

fn builtin(t: &str) -> Option<i64> {
    match t {
        "integer" => Some(0),
        "boolean" => Some(1),
        "string" | "binary" => Some(2),
        "double" => Some(3),
        _ => None,
    }
}

/// `%d` of a number, as `string.format` would print it.
fn fmt_num(n: &Num) -> Result<String, String> {
    match n {
        Num::Int(i) => Ok(i.to_string()),
        Num::Big(_) => {
            Err("bad argument #2 to 'format' (number has no integer representation)".into())
        }
    }
}

/// The two bytes of `(v + 1) * 2`, as the parser packs a field value.
fn pack_value(v: &Cap) -> Result<[u8; 2], String> {
    let n = match v {
        Cap::Num(Num::Int(i)) => *i,
        Cap::Num(Num::Big(_)) => {
            return Err("bad argument #2 to 'pack' (number has no integer representation)".into())
        }
        Cap::Str(s) if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) => {
            return Err("attempt to add a 'string' with a 'number'".into())
        }
        Cap::Str(s) => match s.parse::<i64>() {
            Ok(i) => i,
            Err(_) => {
                return Err(
                    "bad argument #2 to 'pack' (number has no integer representation)".into(),
                )
            }
        },
    };
    let id = n.wrapping_add(1).wrapping_mul(2);
    if !(0..65536).contains(&id) {
        return Err("bad argument #2 to 'pack' (unsigned overflow)".into());
    }
    Ok((id as u16).to_le_bytes())
}

fn int(i: i64) -> Cap {
    Cap::Num(Num::Int(i))
}

fn pack_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn convert_type(all: &mut All, typename: &str, items: &[Item]) -> Result<Vec<FieldDef>, String> {
    let mut fields = Vec::new();
    let mut names = HashSet::new();
    let mut tags = HashSet::new();
    for item in items {
        match item {
            Item::Field(caps) => {
                let s = |i: usize| match caps.get(i) {
                    Some(Cap::Str(s)) => Some(s.clone()),
                    _ => None,
                };
                let name = s(0).unwrap_or_default();
                if !names.insert(name.clone()) {
                    return Err(format!("redefine {name} in type {typename}"));
                }
                let tag = match caps.get(1) {
                    Some(Cap::Num(n)) => *n,
                    _ => Num::Int(0),
                };
                if !tags.insert(tag) {
                    return Err(format!(
                        "redefine tag {} in type {typename}",
                        fmt_num(&tag)?
                    ));
                }
                let mut array = false;
                let mut fieldtype = s(2).unwrap_or_default();
                if fieldtype == "*" {
                    array = true;
                    fieldtype = s(3).unwrap_or_default();
                }
                let mut f = FieldDef {
                    name,
                    tag,
                    array,
                    typename: String::new(),
                    decimal: None,
                    key: None,
                };
                if let Some(mainkey) = caps.get(4) {
                    if fieldtype == "integer" {
                        f.decimal = Some(mainkey.clone());
                    } else if !array {
                        return Err(ASSERT.into());
                    } else {
                        f.key = Some(mainkey.clone());
                    }
                }
                f.typename = fieldtype;
                fields.push(f);
            }
            Item::Type(name, body) => {
                let nested = format!("{typename}.{name}");
                if all.types.contains_key(&nested) {
                    return Err(format!("redefined {nested}"));
                }
                let t = convert_type(all, &nested, body)?;
                all.types.insert(nested, t);
            }
            Item::Protocol(..) => return Err(ASSERT.into()),
        }
    }
    fields.sort_by_key(|f| f.tag);
    Ok(fields)
}

fn convert_protocol(all: &mut All, name: &str, tag: Num, subs: &[Sub]) -> Result<ProtoDef, String> {
    let mut p = ProtoDef {
        tag: Some(tag),
        ..ProtoDef::default()
    };
    for sub in subs {
        let slot_used = match sub.kind.as_str() {
            "request" => p.request.is_some(),
            _ => p.response.is_some(),
        };
        if slot_used {
            return Err(format!("redefine {} in protocol {name}", sub.kind));
        }
        let typename = match &sub.target {
            Target::Name(n) => n.clone(),
            Target::Struct(items) => {
                let tn = format!("{name}.{}", sub.kind);
                let t = convert_type(all, &tn, items)?;
                all.types.insert(tn.clone(), t);
                tn
            }
        };
        if typename == "nil" {
            if sub.kind == "response" {
                p.confirm = true;
            }
        } else if sub.kind == "request" {
            p.request = Some(typename);
        } else {
            p.response = Some(typename);
        }
    }
    Ok(p)
}

fn adjust(items: &[Item]) -> Result<All, String> {
    let mut all = All::default();
    let mut top_types = HashSet::new();
    for item in items {
        match item {
            Item::Type(name, body) => {
                if !top_types.insert(name.clone()) {
                    return Err(format!("redefined {name}"));
                }
                let t = convert_type(&mut all, name, body)?;
                all.types.insert(name.clone(), t);
            }
            Item::Protocol(name, tag, subs) => {
                if all.protocols.iter().any(|(n, _)| n == name) {
                    return Err(format!("redefined {name}"));
                }
                let p = convert_protocol(&mut all, name, *tag, subs)?;
                all.protocols.push((name.clone(), p));
            }
            Item::Field(_) => return Err(ASSERT.into()),
        }
    }
    Ok(all)
}

fn check_protocols(all: &All) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (name, p) in &all.protocols {
        let tag = p.tag.unwrap_or(Num::Int(0));
        if !seen.insert(tag) {
            return Err(format!(
                "redefined protocol tag {} at {name}",
                fmt_num(&tag)?
            ));
        }
        if let Some(r) = &p.request {
            if !all.types.contains_key(r) {
                return Err(format!("Undefined request type {r} in protocol {name}"));
            }
        }
        if let Some(r) = &p.response {
            if !all.types.contains_key(r) {
                return Err(format!("Undefined response type {r} in protocol {name}"));
            }
        }
    }
    Ok(())
}

/// The full name `t` refers to from inside type `ptype`: a builtin, a
/// type nested in `ptype` or one of its parents, or a top-level type.
fn resolve(types: &HashMap<String, Vec<FieldDef>>, ptype: &str, t: &str) -> Option<String> {
    if builtin(t).is_some() {
        return Some(t.to_string());
    }
    let mut ptype = ptype.to_string();
    loop {
        let full = format!("{ptype}.{t}");
        if types.contains_key(&full) {
            return Some(full);
        }
        match ptype.rfind('.') {
            Some(i) if i > 0 && i + 1 < ptype.len() => ptype.truncate(i),
            _ => return types.contains_key(t).then(|| t.to_string()),
        }
    }
}

fn flatten(all: &mut All) -> Result<(), String> {
    let mut names: Vec<String> = all.types.keys().cloned().collect();
    names.sort();
    for tn in names {
        let fields = all.types[&tn].clone();
        let mut out = Vec::with_capacity(fields.len());
        for mut f in fields {
            match resolve(&all.types, &tn, &f.typename) {
                Some(full) => f.typename = full,
                None => return Err(format!("Undefined type {} in type {tn}", f.typename)),
            }
            out.push(f);
        }
        all.types.insert(tn, out);
    }
    Ok(())
}

/// Per type: its id and its fields' tags and builtin-ness, by name.
type Index = BTreeMap<String, (usize, HashMap<String, (Num, bool)>)>;

fn pack_field(f: &FieldDef, ids: &Index) -> Result<Vec<u8>, String> {
    let base = builtin(&f.typename);
    let mut extra = f.decimal.clone();
    if f.typename == "binary" {
        extra = Some(int(1));
    }
    let sub = if base.is_none() {
        ids.get(&f.typename)
    } else {
        None
    };
    let mut key = None;
    let mut map = false;
    if let Some(k) = &f.key {
        let Some((_, sub_fields)) = sub else {
            return Err("attempt to index a nil value (local 'subtype')".into());
        };
        let mut k = match k {
            Cap::Str(s) => s.clone(),
            Cap::Num(n) => fmt_num(n)?,
        };
        if k.is_empty() {
            map = true;
            if let Some((name, _)) = sub_fields.iter().min_by(|a, b| a.1 .0.cmp(&b.1 .0)) {
                k = name.clone();
            }
            if sub_fields.len() != 2 {
                return Err(format!(
                    "Invalid map definition: {}, must only have two fields",
                    f.name
                ));
            }
        }
        match sub_fields.get(&k) {
            Some((tag, true)) => key = Some(Cap::Num(*tag)),
            _ => return Err(format!("Invalid map index :{k}")),
        }
    }
    let count: u8 = match (f.array, key.is_some(), map) {
        (true, true, true) => 7,
        (true, true, false) => 6,
        (true, false, _) => 5,
        (false, ..) => 4,
    };
    let mut b = vec![count, 0, 0, 0];
    match base {
        Some(t) => {
            b.extend(pack_value(&int(t))?);
            match &extra {
                Some(e) => b.extend(pack_value(e)?),
                None => b.extend([1, 0]),
            }
        }
        None => {
            b.extend([1, 0]);
            let id = sub.map_or(0, |s| s.0) as i64;
            b.extend(pack_value(&int(id))?);
        }
    }
    b.extend(pack_value(&Cap::Num(f.tag))?);
    if f.array {
        b.extend(pack_value(&int(1))?);
        if let Some(k) = &key {
            b.extend(pack_value(k)?);
            if map {
                b.extend(pack_value(&int(1))?);
            }
        }
    }
    pack_bytes(&mut b, f.name.as_bytes());
    let mut out = Vec::with_capacity(b.len() + 4);
    pack_bytes(&mut out, &b);
    Ok(out)
}

fn pack_type(name: &str, fields: &[FieldDef], ids: &Index) -> Result<Vec<u8>, String> {
    let mut d = Vec::new();
    if fields.is_empty() {
        d.extend([1, 0, 0, 0]);
        pack_bytes(&mut d, name.as_bytes());
    } else {
        d.extend([2, 0, 0, 0, 0, 0]);
        pack_bytes(&mut d, name.as_bytes());
        let mut fb = Vec::new();
        for f in fields {
            fb.extend(pack_field(f, ids)?);
        }
        pack_bytes(&mut d, &fb);
    }
    let mut out = Vec::new();
    pack_bytes(&mut out, &d);
    Ok(out)
}

fn pack_proto(name: &str, p: &ProtoDef, ids: &Index) -> Result<Vec<u8>, String> {
    let id = |t: &str| ids.get(t).map_or(0, |x| x.0) as i64;
    let mut count = 4u8;
    let mut d = vec![0, 0];
    d.extend(pack_value(&Cap::Num(p.tag.unwrap_or(Num::Int(0))))?);
    if p.request.is_none() && p.response.is_none() && !p.confirm {
        count = 2;
    } else {
        match &p.request {
            Some(r) => d.extend(pack_value(&int(id(r)))?),
            None => d.extend([1, 0]),
        }
        if let Some(r) = &p.response {
            d.extend(pack_value(&int(id(r)))?);
        } else if p.confirm {
            count = 5;
            d.extend([1, 0]);
            d.extend(pack_value(&int(1))?);
        } else {
            count = 3;
        }
    }
    pack_bytes(&mut d, name.as_bytes());
    let mut b = vec![count, 0];
    b.extend(d);
    let mut out = Vec::new();
    pack_bytes(&mut out, &b);
    Ok(out)
}

fn pack_group(all: &All) -> Result<Vec<u8>, String> {
    if all.types.is_empty() {
        if !all.protocols.is_empty() {
            return Err(ASSERT.into());
        }
        return Ok(vec![0, 0]);
    }
    let mut names: Vec<&String> = all.types.keys().collect();
    names.sort();
    let mut ids: Index = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let fields = all.types[*n]
            .iter()
            .map(|f| (f.name.clone(), (f.tag, builtin(&f.typename).is_some())))
            .collect();
        ids.insert((*n).clone(), (i, fields));
    }
    let mut tt = Vec::new();
    for n in &names {
        tt.extend(pack_type(n, &all.types[*n], &ids)?);
    }
    let mut out = Vec::new();
    if all.protocols.is_empty() {
        out.extend([1, 0, 0, 0]);
        pack_bytes(&mut out, &tt);
        return Ok(out);
    }
    let mut protos: Vec<&(String, ProtoDef)> = all.protocols.iter().collect();
    protos.sort_by_key(|p| p.1.tag);
    let mut tp = Vec::new();
    for (name, p) in protos {
        tp.extend(pack_proto(name, p, &ids)?);
    }
    out.extend([2, 0, 0, 0, 0, 0]);
    pack_bytes(&mut out, &tt);
    pack_bytes(&mut out, &tp);
    Ok(out)
}

/// The schema binary of the matched `items`, or the parser's error.
pub fn build(items: &[Item]) -> Result<Vec<u8>, String> {
    let mut all = adjust(items)?;
    check_protocols(&all)?;
    flatten(&mut all)?;
    pack_group(&all)
}
