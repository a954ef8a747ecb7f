//! A pbc environment (`_env_new`): the files, message types and enums
//! registered from descriptor sets, named as pbc names them (full names
//! without the leading dot; an extension field by its scope and name,
//! `package.name` or `package.Message.name`), and the last error.

use crate::load::{self, EnumInfo, FieldInfo, FileInfo, TypeInfo};
use crate::meter::Meter;
use crate::wire::t;
use std::collections::{HashMap, HashSet};

/// pbc's type codes, as `_env_type` returns them.
#[allow(missing_docs)]
pub mod code {
    pub const INT: i64 = 1;
    pub const REAL: i64 = 2;
    pub const BOOL: i64 = 3;
    pub const ENUM: i64 = 4;
    pub const STRING: i64 = 5;
    pub const MESSAGE: i64 = 6;
    pub const FIXED64: i64 = 7;
    pub const FIXED32: i64 = 8;
    pub const BYTES: i64 = 9;
    pub const INT64: i64 = 10;
    pub const UINT: i64 = 11;
    pub const REPEATED: i64 = 128;
}

/// A field's label as pbc keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// `optional` (and proto3's plain fields): not written when equal to
    /// the default.
    Optional,
    /// `required`: always written.
    Required,
    /// `repeated`, not packed.
    Repeated,
    /// `repeated` with `[packed = true]` given in the descriptor.
    Packed,
}

impl Label {
    /// Repeated, packed or not.
    pub fn repeated(self) -> bool {
        matches!(self, Label::Repeated | Label::Packed)
    }
}

/// A field's default, kept as pbc's value union keeps it: `bits` are the
/// integer (low | high << 32), the double's bits, or an enum's number;
/// `text` is a string's bytes or an enum value's name.
#[derive(Clone, Debug, Default)]
pub struct Def {
    /// Integer, double bits or enum number.
    pub bits: u64,
    /// String default or enum name.
    pub text: Vec<u8>,
}

/// One field of a message type.
#[derive(Clone, Debug)]
pub struct PField {
    /// The name (an extension's qualified by its scope).
    pub name: Vec<u8>,
    /// Field number.
    pub id: i32,
    /// `FieldDescriptorProto.Type` (see [`crate::wire::t`]).
    pub ptype: u8,
    /// Label.
    pub label: Label,
    /// The message or enum type's full name, without the leading dot.
    pub type_name: Vec<u8>,
    /// The default value.
    pub def: Def,
    /// The default as written in the descriptor (enums resolve it once
    /// their file is registered).
    pub(crate) raw_default: Option<Vec<u8>>,
}

impl PField {
    /// pbc's type code of this field (0 for a group), with
    /// [`code::REPEATED`] for repeated fields.
    pub fn code(&self) -> i64 {
        let c = match self.ptype {
            t::DOUBLE | t::FLOAT => code::REAL,
            t::INT64 | t::SINT64 => code::INT64,
            t::INT32 | t::SINT32 => code::INT,
            t::UINT32 | t::UINT64 => code::UINT,
            t::FIXED32 | t::SFIXED32 => code::FIXED32,
            t::FIXED64 | t::SFIXED64 => code::FIXED64,
            t::BOOL => code::BOOL,
            t::STRING => code::STRING,
            t::BYTES => code::BYTES,
            t::ENUM => code::ENUM,
            t::MESSAGE => code::MESSAGE,
            _ => return 0,
        };
        if self.label.repeated() {
            c | code::REPEATED
        } else {
            c
        }
    }
}

/// One message type.
#[derive(Clone, Debug, Default)]
pub struct PMessage {
    /// Fields in the order they were registered.
    pub fields: Vec<PField>,
    /// Field index by name (the first registered wins).
    pub by_name: HashMap<Vec<u8>, usize>,
    /// Field index by number (the first registered wins).
    pub by_id: HashMap<i32, usize>,
}

impl PMessage {
    /// The field named `name`.
    pub fn field(&self, name: &[u8]) -> Option<&PField> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }
    /// The field numbered `id`.
    pub fn field_by_id(&self, id: i32) -> Option<&PField> {
        self.by_id.get(&id).map(|&i| &self.fields[i])
    }
    fn push(&mut self, f: PField) {
        let i = self.fields.len();
        self.by_name.entry(f.name.clone()).or_insert(i);
        self.by_id.entry(f.id).or_insert(i);
        self.fields.push(f);
    }
}

/// One enum type.
#[derive(Clone, Debug, Default)]
pub struct PEnum {
    /// Value names by number (the first of aliases wins).
    pub names: HashMap<i32, Vec<u8>>,
    /// Numbers by value name.
    pub ids: HashMap<Vec<u8>, i32>,
    /// The first value: the default of a field without one.
    pub first: (i32, Vec<u8>),
}

/// Everything registered in one environment.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// Registered file names.
    pub files: HashSet<Vec<u8>>,
    /// Message types by full name (no leading dot).
    pub msgs: HashMap<Vec<u8>, PMessage>,
    /// Enums by full name (no leading dot).
    pub enums: HashMap<Vec<u8>, PEnum>,
}

/// Why a register failed: pbc's message, or the budget ran out.
#[derive(Debug)]
pub enum RegisterError {
    /// The text `_last_error` gives afterwards.
    Pbc(&'static str),
    /// Raised while charging the budget.
    Lua(mlua::Error),
    /// The descriptors nest deeper than allowed (`pbc_max_depth`).
    TooDeep,
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut v = Vec::with_capacity(prefix.len() + 1 + name.len());
    v.extend_from_slice(prefix);
    v.push(b'.');
    v.extend_from_slice(name);
    v
}

/// C's `strtoll(s, NULL, 10)`: leading spaces, a sign, digits; saturating.
fn strtoll(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i128 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = (v * 10 + i128::from(c - b'0')).min(i128::from(u64::MAX) + 1);
    }
    let v = if neg { -v } else { v };
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// C's `strtoul(s, NULL, 10)` as pbc stores it (the low 32 bits).
fn strtoul32(s: &[u8]) -> u32 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: u128 = 0;
    let mut over = false;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = v * 10 + u128::from(c - b'0');
        if v > u128::from(u64::MAX) {
            over = true;
            v = u128::from(u64::MAX);
        }
    }
    let v = if over {
        u64::MAX
    } else if neg {
        (v as u64).wrapping_neg()
    } else {
        v as u64
    };
    v as u32
}

/// C's `strtod` for the texts protoc writes (`1.5`, `-2e3`, `inf`, `nan`).
fn strtod(s: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(s.trim_ascii());
    let mut end = text.len();
    while end > 0 {
        if let Ok(v) = text[..end].parse::<f64>() {
            return v;
        }
        end -= 1;
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
    }
    0.0
}

fn default_of(ptype: u8, value: Option<&[u8]>) -> Def {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Def::default();
    };
    let bits = match ptype {
        t::DOUBLE | t::FLOAT => strtod(v).to_bits(),
        t::STRING => {
            return Def {
                bits: 0,
                text: v.to_vec(),
            }
        }
        t::BOOL => u64::from(v == b"true"),
        t::UINT64 | t::INT64 | t::SFIXED64 | t::SINT64 => strtoll(v) as u64,
        t::INT32 | t::FIXED32 | t::SFIXED32 | t::SINT32 => strtoll(v) as i32 as i64 as u64,
        t::UINT32 => u64::from(strtoul32(v)),
        _ => 0,
    };
    Def {
        bits,
        text: Vec::new(),
    }
}

impl Env {
    /// The message type named `name`.
    pub fn msg(&self, name: &[u8]) -> Option<&PMessage> {
        self.msgs.get(name)
    }

    /// The field `key` of message `msg`.
    pub fn field(&self, msg: &[u8], key: &[u8]) -> Option<&PField> {
        self.msgs.get(msg)?.field(key)
    }

    /// `pbc_enum_id`: the number of `name` in enum `ty`.
    pub fn enum_id(&self, ty: &[u8], name: &[u8]) -> Option<i32> {
        self.enums.get(ty)?.ids.get(name).copied()
    }

    /// `pbc_register`: adds the files of a `FileDescriptorSet` whose
    /// dependencies are registered (in as many rounds as it takes); files
    /// registered before are skipped.
    pub fn register(&mut self, data: &[u8], meter: &mut Meter) -> Result<(), RegisterError> {
        self.register_limited(data, meter, load::MAX_NESTING)
    }

    /// [`Env::register`] with descriptor messages nesting less than
    /// `max_depth` deep (`pbc_max_depth`); past it, [`RegisterError::TooDeep`].
    pub fn register_limited(
        &mut self,
        data: &[u8],
        meter: &mut Meter,
        max_depth: usize,
    ) -> Result<(), RegisterError> {
        let opened = "register open google.protobuf.FileDescriptorSet fail";
        if super::scan::check(data, meter)
            .map_err(RegisterError::Lua)?
            .is_none()
        {
            return Err(self.fail(opened));
        }
        let files = match load::parse_limited(data, meter, max_depth) {
            Ok((files, _)) => files,
            Err(load::LoadError::Lua(e)) => return Err(RegisterError::Lua(e)),
            Err(load::LoadError::At(_)) => return Err(self.fail(opened)),
            Err(load::LoadError::TooDeep(_)) => return Err(RegisterError::TooDeep),
        };
        if files.is_empty() {
            return Err(self.fail("register empty"));
        }
        let mut todo: Vec<Option<FileInfo>> = files.into_iter().map(Some).collect();
        let mut left = todo.len();
        loop {
            let mut waiting = 0;
            for slot in todo.iter_mut() {
                let Some(f) = slot.as_ref() else { continue };
                let name = f.name.clone().unwrap_or_default();
                if self.files.contains(&name) {
                    *slot = None;
                    continue;
                }
                if f.deps.iter().any(|d| !self.files.contains(d)) {
                    waiting += 1;
                    continue;
                }
                let f = slot.take().expect("present");
                self.files.insert(name);
                self.register_file(&f);
            }
            if waiting == 0 {
                return Ok(());
            }
            if waiting == left {
                return Err(self.fail("register dependency error"));
            }
            left = waiting;
        }
    }

    fn fail(&mut self, msg: &'static str) -> RegisterError {
        RegisterError::Pbc(msg)
    }

    fn register_file(&mut self, f: &FileInfo) {
        let package = f.package.clone().unwrap_or_default();
        let mut queue = Vec::new();
        for e in &f.enums {
            self.register_enum(e, &package);
        }
        for m in &f.messages {
            self.register_message(m, &package, &mut queue);
        }
        self.register_extensions(&f.extensions, &package, &mut queue);
        self.resolve(&queue);
    }

    fn register_enum(&mut self, e: &EnumInfo, prefix: &[u8]) {
        let name = join(prefix, e.name.as_deref().unwrap_or_default());
        if self.enums.contains_key(&name) {
            return;
        }
        let mut en = PEnum::default();
        for (i, (vname, id)) in e.values.iter().enumerate() {
            let vname = vname.clone().unwrap_or_default();
            if i == 0 {
                en.first = (*id, vname.clone());
            }
            en.names.entry(*id).or_insert_with(|| vname.clone());
            en.ids.entry(vname).or_insert(*id);
        }
        self.enums.insert(name, en);
    }

    fn make_field(info: &FieldInfo, name: Vec<u8>) -> PField {
        let ptype = (info.ty & 31) as u8;
        let label = if info.packed > 0 {
            Label::Packed
        } else {
            match info.label {
                2 => Label::Required,
                3 => Label::Repeated,
                _ => Label::Optional,
            }
        };
        let type_name = match info.type_name.as_deref() {
            Some([b'.', rest @ ..]) => rest.to_vec(),
            Some(other) => other.to_vec(),
            None => Vec::new(),
        };
        PField {
            name,
            id: info.number,
            ptype,
            label,
            type_name,
            def: default_of(ptype, info.default.as_deref()),
            raw_default: info.default.clone(),
        }
    }

    fn push_field(&mut self, msg: &[u8], f: PField, queue: &mut Vec<(Vec<u8>, usize)>) {
        let m = self.msgs.entry(msg.to_vec()).or_default();
        if f.ptype == t::ENUM {
            queue.push((msg.to_vec(), m.fields.len()));
        }
        m.push(f);
    }

    fn register_message(
        &mut self,
        info: &TypeInfo,
        prefix: &[u8],
        queue: &mut Vec<(Vec<u8>, usize)>,
    ) {
        let name = join(prefix, info.name.as_deref().unwrap_or_default());
        self.msgs.entry(name.clone()).or_default();
        for fi in &info.fields {
            let f = Self::make_field(fi, fi.name.clone().unwrap_or_default());
            self.push_field(&name, f, queue);
        }
        self.register_extensions(&info.extensions, &name, queue);
        for e in &info.enums {
            self.register_enum(e, &name);
        }
        for n in &info.nested {
            self.register_message(n, &name, queue);
        }
    }

    fn register_extensions(
        &mut self,
        exts: &[FieldInfo],
        prefix: &[u8],
        queue: &mut Vec<(Vec<u8>, usize)>,
    ) {
        for x in exts {
            let name = join(prefix, x.name.as_deref().unwrap_or_default());
            let f = Self::make_field(x, name);
            let extendee = match x.extendee.as_deref() {
                Some([b'.', rest @ ..]) => rest.to_vec(),
                Some(other) => other.to_vec(),
                None => Vec::new(),
            };
            self.push_field(&extendee, f, queue);
        }
    }

    /// Adds an empty message type (built-in types).
    pub(crate) fn add_message(&mut self, name: &[u8]) {
        self.msgs.entry(name.to_vec()).or_default();
    }

    /// Adds a field (built-in types): `label` 1–3 as in descriptor.proto,
    /// 4 for packed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_field(
        &mut self,
        msg: &[u8],
        name: &[u8],
        id: i32,
        label: i32,
        ptype: u8,
        type_name: Option<&[u8]>,
        default: Option<&[u8]>,
    ) {
        let info = FieldInfo {
            name: Some(name.to_vec()),
            type_name: type_name.map(|t| t.to_vec()),
            default: default.map(|d| d.to_vec()),
            number: id,
            label: label.min(3),
            ty: i32::from(ptype),
            packed: i32::from(label == 4),
            ..FieldInfo::default()
        };
        let f = Self::make_field(&info, name.to_vec());
        self.msgs.entry(msg.to_vec()).or_default().push(f);
    }

    /// Adds a value to an enum (built-in types).
    pub(crate) fn add_enum_value(&mut self, en: &[u8], name: &[u8], id: i32) {
        let e = self.enums.entry(en.to_vec()).or_default();
        if e.names.is_empty() {
            e.first = (id, name.to_vec());
        }
        e.names.entry(id).or_insert_with(|| name.to_vec());
        e.ids.entry(name.to_vec()).or_insert(id);
    }

    /// Resolves every enum field's default (built-in types).
    pub(crate) fn resolve_all(&mut self) {
        let mut queue = Vec::new();
        for (name, m) in &self.msgs {
            for (i, f) in m.fields.iter().enumerate() {
                if f.ptype == t::ENUM {
                    queue.push((name.clone(), i));
                }
            }
        }
        self.resolve(&queue);
    }

    /// Enum fields' defaults: the named value, else the enum's first.
    fn resolve(&mut self, queue: &[(Vec<u8>, usize)]) {
        for (msg, i) in queue {
            let Some(f) = self.msgs.get(msg).and_then(|m| m.fields.get(*i)) else {
                continue;
            };
            let Some(en) = self.enums.get(&f.type_name) else {
                continue;
            };
            let named = f
                .raw_default
                .as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|s| en.ids.get(s).map(|id| (*id, s.to_vec())));
            let (id, name) = named.unwrap_or_else(|| en.first.clone());
            if let Some(f) = self.msgs.get_mut(msg).and_then(|m| m.fields.get_mut(*i)) {
                f.def = Def {
                    bits: u64::from(id as u32),
                    text: name,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_parsing() {
        assert_eq!(strtoll(b"-12abc"), -12);
        assert_eq!(strtoll(b"18446744073709551615"), i64::MAX);
        assert_eq!(strtoul32(b"4294967295"), u32::MAX);
        assert_eq!(strtod(b"1.5"), 1.5);
        assert!(strtod(b"inf").is_infinite());
        assert_eq!(strtod(b"2e1x"), 20.0);
    }
}
