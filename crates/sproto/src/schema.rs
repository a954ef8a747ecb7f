//! A loaded schema: the types and protocols of a schema binary (what the
//! parser writes), read with every length and index checked.
//!
//! The schema binary is itself a sproto message of the `group` type
//! (`type 0 : *type`, `protocol 1 : *protocol`), so it is read with the
//! same struct framing as messages: a 16-bit field count, one 16-bit word
//! per field, then the data part of every field whose word is zero.

use crate::wire::{dword, word};

/// Base type numbers, as the schema binary writes them.
pub const T_INTEGER: u8 = 0;
/// `boolean`.
pub const T_BOOLEAN: u8 = 1;
/// `string` (and `binary`, a string with `extra == 1`).
pub const T_STRING: u8 = 2;
/// `double`.
pub const T_DOUBLE: u8 = 3;
/// A user-defined type.
pub const T_STRUCT: u8 = 4;

/// One field of a type.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's name.
    pub name: Vec<u8>,
    /// Its tag (0..=32766).
    pub tag: i64,
    /// Its base type (`T_*`).
    pub ty: u8,
    /// True for `*Type`.
    pub array: bool,
    /// The index of its type when `ty == T_STRUCT`.
    pub st: Option<usize>,
    /// The main index tag of `*Type(key)`, or -1.
    pub key: i64,
    /// True for the two-field map form `*Type()`.
    pub map: bool,
    /// For integers, the decimal scale (10^n, 0 for plain integers); for
    /// strings, 1 for `binary`.
    pub extra: i64,
}

/// One user-defined type.
#[derive(Debug, Clone)]
pub struct Type {
    /// Its full name (`Outer.Inner` for nested types).
    pub name: Vec<u8>,
    /// Its fields, by ascending tag.
    pub fields: Vec<Field>,
    /// The first tag when the tags are contiguous, else -1.
    pub base: i64,
    /// The most field words an encoding can have (fields plus gaps).
    pub maxn: usize,
}

/// One protocol.
#[derive(Debug, Clone)]
pub struct Protocol {
    /// Its name.
    pub name: Vec<u8>,
    /// Its tag.
    pub tag: i64,
    /// The request type.
    pub request: Option<usize>,
    /// The response type.
    pub response: Option<usize>,
    /// True when the response is declared `nil`.
    pub confirm: bool,
}

/// A loaded schema.
#[derive(Debug, Clone, Default)]
pub struct Sproto {
    /// The types, in the order of the binary (sorted by name).
    pub types: Vec<Type>,
    /// The protocols, in the order of the binary (sorted by tag).
    pub protocols: Vec<Protocol>,
}

/// A struct's framing: the field words and the data parts, in order.
pub(crate) struct View<'a> {
    pub words: Vec<u16>,
    pub data: Vec<&'a [u8]>,
}

/// Reads the framing of a struct of `b` (at least four bytes, as skynet's
/// loader asks).
pub(crate) fn view(b: &[u8]) -> Result<View<'_>, String> {
    if b.len() < 4 {
        return Err("struct shorter than its header".into());
    }
    let n = usize::from(word(b, 0));
    let header = 2 + 2 * n;
    if b.len() < header {
        return Err("field words past the end".into());
    }
    let words: Vec<u16> = (0..n).map(|i| word(b, 2 + 2 * i)).collect();
    let mut rest = &b[header..];
    let mut data = Vec::new();
    for _ in words.iter().filter(|w| **w == 0) {
        if rest.len() < 4 {
            return Err("data part length past the end".into());
        }
        let len = dword(rest, 0) as usize;
        if rest.len() - 4 < len {
            return Err("data part past the end".into());
        }
        data.push(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    Ok(View { words, data })
}

/// The elements of an array data part: each a 32-bit length and its bytes.
pub(crate) fn items(mut b: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return Err("array element length past the end".into());
        }
        let len = dword(b, 0) as usize;
        if b.len() - 4 < len {
            return Err("array element past the end".into());
        }
        out.push(&b[4..4 + len]);
        b = &b[4 + len..];
    }
    Ok(out)
}

/// 10^n with 32-bit wrap-around, as skynet computes a decimal's scale.
fn pow10(n: i64) -> i64 {
    let mut r: i32 = 1;
    let mut base: i32 = 10;
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            r = r.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        n >>= 1;
    }
    i64::from(r)
}

/// The value of a field word that holds one (`word / 2 - 1`).
fn value_of(w: u16) -> i64 {
    i64::from(w / 2) - 1
}

fn load_field(b: &[u8], type_n: usize) -> Result<Field, String> {
    let v = view(b)?;
    let mut f = Field {
        name: Vec::new(),
        tag: -1,
        ty: u8::MAX,
        array: false,
        st: None,
        key: -1,
        map: false,
        extra: 0,
    };
    let mut named = false;
    let mut tag: i64 = -1;
    for &w in &v.words {
        tag += 1;
        if w & 1 == 1 {
            tag += i64::from(w / 2);
            continue;
        }
        if tag == 0 {
            if w != 0 {
                return Err("field name is not a string".into());
            }
            f.name = cstr(v.data[0]);
            named = true;
            continue;
        }
        if w == 0 {
            return Err(format!("field attribute {tag} is not a number"));
        }
        let value = value_of(w);
        match tag {
            1 => {
                if value >= i64::from(T_STRUCT) {
                    return Err(format!("invalid builtin type {value}"));
                }
                f.ty = value as u8;
            }
            2 => {
                if f.ty == T_INTEGER {
                    f.extra = pow10(value);
                } else if f.ty == T_STRING {
                    f.extra = value;
                } else {
                    if value as usize >= type_n {
                        return Err(format!("type index {value} out of range"));
                    }
                    if f.ty != u8::MAX {
                        return Err("field has both a builtin and a user type".into());
                    }
                    f.ty = T_STRUCT;
                    f.st = Some(value as usize);
                }
            }
            3 => f.tag = value,
            4 => f.array = value != 0,
            5 => f.key = value,
            6 => f.map = value != 0,
            _ => return Err(format!("unknown field attribute {tag}")),
        }
    }
    if f.tag < 0 || f.ty == u8::MAX || !named {
        return Err("field without a name, a tag or a type".into());
    }
    Ok(f)
}

fn load_type(b: &[u8], type_n: usize) -> Result<Type, String> {
    let v = view(b)?;
    if v.words.is_empty() || v.words.len() > 2 || v.words.iter().any(|w| *w != 0) {
        return Err("malformed type".into());
    }
    let mut t = Type {
        name: cstr(v.data[0]),
        fields: Vec::new(),
        base: 0,
        maxn: 0,
    };
    if v.words.len() == 1 {
        return Ok(t);
    }
    let fields = items(v.data[1])?;
    let mut last = -1;
    let mut maxn = fields.len();
    for fb in fields {
        let f = load_field(fb, type_n).map_err(|e| format!("type {}: {e}", lossy(&t.name)))?;
        if f.tag <= last {
            return Err(format!("type {}: tags not ascending", lossy(&t.name)));
        }
        if f.tag > last + 1 {
            maxn += 1;
        }
        last = f.tag;
        t.fields.push(f);
    }
    t.maxn = maxn;
    if let (Some(first), Some(lastf)) = (t.fields.first(), t.fields.last()) {
        t.base = first.tag;
        if lastf.tag - first.tag + 1 != t.fields.len() as i64 {
            t.base = -1;
        }
    }
    Ok(t)
}

fn load_protocol(b: &[u8], type_n: usize) -> Result<Protocol, String> {
    let v = view(b)?;
    let mut p = Protocol {
        name: Vec::new(),
        tag: -1,
        request: None,
        response: None,
        confirm: false,
    };
    let mut named = false;
    for (i, &w) in v.words.iter().enumerate() {
        if w & 1 == 1 {
            continue;
        }
        let value = value_of(w);
        let index = |value: i64| {
            if value < 0 || value as usize >= type_n {
                Err(format!("protocol type index {value} out of range"))
            } else {
                Ok(value as usize)
            }
        };
        match i {
            0 => {
                if value != -1 {
                    return Err("protocol name is not a string".into());
                }
                p.name = cstr(v.data[0]);
                named = true;
            }
            1 => {
                if value < 0 {
                    return Err("protocol tag is not a number".into());
                }
                p.tag = value;
            }
            2 => p.request = Some(index(value)?),
            3 => p.response = Some(index(value)?),
            4 => p.confirm = value != 0,
            _ => return Err("unknown protocol attribute".into()),
        }
    }
    if !named || p.tag < 0 {
        return Err("protocol without a name or a tag".into());
    }
    Ok(p)
}

/// The bytes of a name up to its first NUL (names are C strings in skynet).
fn cstr(b: &[u8]) -> Vec<u8> {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    b[..end].to_vec()
}

/// A name for error messages.
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Sproto {
    /// Loads a schema binary, calling `tick` once per type, field and
    /// protocol read (so a caller can charge the work). Any malformed part
    /// is an error saying which.
    pub fn load(
        bin: &[u8],
        tick: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Sproto, String> {
        let v = view(bin)?;
        if v.words.len() > 2 || v.words.iter().any(|w| *w != 0) {
            return Err("malformed schema group".into());
        }
        let types = match v.data.first() {
            Some(d) => items(d)?,
            None => Vec::new(),
        };
        let protos = match v.data.get(1) {
            Some(d) => items(d)?,
            None => Vec::new(),
        };
        let type_n = types.len();
        let mut sp = Sproto::default();
        for tb in types {
            tick()?;
            sp.types.push(load_type(tb, type_n)?);
        }
        for pb in protos {
            tick()?;
            sp.protocols.push(load_protocol(pb, type_n)?);
        }
        sp.check_maps()?;
        Ok(sp)
    }

    /// A map field (`*Type()`) reads the first two fields of its type, and
    /// a main index applies to an array: refuse a schema where that is not
    /// so, rather than read past a type's fields later.
    fn check_maps(&self) -> Result<(), String> {
        for t in &self.types {
            for f in &t.fields {
                if !f.map {
                    continue;
                }
                let ok =
                    f.array && f.key >= 0 && f.st.is_some_and(|i| self.types[i].fields.len() >= 2);
                if !ok {
                    return Err(format!(
                        "type {}: map field {} needs an array of a type of two fields",
                        lossy(&t.name),
                        lossy(&f.name)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The type named `name` (compared as a C string).
    pub fn type_index(&self, name: &[u8]) -> Option<usize> {
        let name = &name[..name.iter().position(|c| *c == 0).unwrap_or(name.len())];
        self.types.iter().position(|t| t.name == name)
    }

    /// The tag of the protocol named `name`.
    pub fn proto_tag(&self, name: &[u8]) -> Option<i64> {
        let name = &name[..name.iter().position(|c| *c == 0).unwrap_or(name.len())];
        self.protocols
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.tag)
    }

    /// The protocol of tag `tag` (a binary search, as the protocols are
    /// sorted by tag).
    pub fn proto(&self, tag: i64) -> Option<&Protocol> {
        let (mut lo, mut hi) = (0usize, self.protocols.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let t = self.protocols[mid].tag;
            if t == tag {
                return Some(&self.protocols[mid]);
            }
            if tag > t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        None
    }
}

impl Type {
    /// The field of tag `tag`.
    pub fn field(&self, tag: i64) -> Option<&Field> {
        if self.base >= 0 {
            let i = tag - self.base;
            if i < 0 {
                return None;
            }
            return self.fields.get(i as usize);
        }
        let (mut lo, mut hi) = (0usize, self.fields.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let t = self.fields[mid].tag;
            if t == tag {
                return Some(&self.fields[mid]);
            }
            if tag > t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> impl FnMut() -> Result<(), String> {
        || Ok(())
    }

    #[test]
    fn scale_wraps_like_a_32_bit_int() {
        assert_eq!(pow10(0), 1);
        assert_eq!(pow10(2), 100);
        assert_eq!(pow10(9), 1_000_000_000);
        assert_eq!(pow10(10), i64::from(1_000_000_000i32.wrapping_mul(10)));
    }

    #[test]
    fn short_and_truncated_bins_are_refused() {
        for bin in [&b""[..], b"\0\0", b"\x01\0\0\0", b"\x01\0\0\0\x09\0\0\0ab"] {
            assert!(Sproto::load(bin, &mut ok()).is_err(), "{bin:?}");
        }
    }

    #[test]
    fn an_empty_group_loads() {
        let sp = Sproto::load(b"\0\0\0\0", &mut ok()).expect("empty group");
        assert!(sp.types.is_empty() && sp.protocols.is_empty());
    }
}
