//! `pb.load`: reads a `FileDescriptorSet` (what `protoc -o` writes and
//! `protoc.lua` compiles) into a [`Schema`], taking from it what
//! lua-protobuf takes: packages, messages (nested), enums, fields with
//! their labels, types, defaults, oneofs and `packed`, map entries, and
//! extensions, in the order lua-protobuf adds them.

use crate::meter::Meter;
use crate::schema::Schema;
use crate::wire::{Rd, W_BYTES, W_VARINT};

/// How deep messages may nest in a descriptor by default (`pb_max_depth`,
/// `pbc_max_depth`: [`crate::limits`]).
pub const MAX_NESTING: usize = crate::limits::DEFAULT_MAX_DEPTH;

/// Why a load stopped: the descriptor is malformed at `pos` (0-based), or
/// the budget ran out.
#[derive(Debug)]
pub enum LoadError {
    /// Malformed at this offset.
    At(usize),
    /// Raised while charging the budget.
    Lua(mlua::Error),
    /// Messages nested past the depth allowed, at this offset.
    TooDeep(usize),
}

const fn pair(n: u32, w: u32) -> u32 {
    n << 3 | w
}

/// One `FieldDescriptorProto`, as far as it is read.
#[derive(Default, Debug)]
pub struct FieldInfo {
    /// `name`.
    pub name: Option<Vec<u8>>,
    /// `type_name` (a full name with its leading dot).
    pub type_name: Option<Vec<u8>>,
    /// `extendee` (for an extension).
    pub extendee: Option<Vec<u8>>,
    /// `default_value`, as written.
    pub default: Option<Vec<u8>>,
    /// `number`.
    pub number: i32,
    /// `label` (1 optional, 2 required, 3 repeated).
    pub label: i32,
    /// `type` (descriptor.proto's numbering).
    pub ty: i32,
    /// `oneof_index` + 1, 0 for none.
    pub oneof: i32,
    /// `options.packed`: -1 when not given.
    pub packed: i32,
}

/// One `EnumDescriptorProto`.
#[derive(Default, Debug)]
pub struct EnumInfo {
    /// `name`.
    pub name: Option<Vec<u8>>,
    /// The values: name and number, in order.
    pub values: Vec<(Option<Vec<u8>>, i32)>,
}

/// One `DescriptorProto` (a message type).
#[derive(Default, Debug)]
pub struct TypeInfo {
    /// `name`.
    pub name: Option<Vec<u8>>,
    /// `options.map_entry`.
    pub is_map: bool,
    /// `field`.
    pub fields: Vec<FieldInfo>,
    /// `extension`.
    pub extensions: Vec<FieldInfo>,
    /// `enum_type`.
    pub enums: Vec<EnumInfo>,
    /// `nested_type`.
    pub nested: Vec<TypeInfo>,
    /// `oneof_decl` names.
    pub oneofs: Vec<Vec<u8>>,
}

/// One `FileDescriptorProto`.
#[derive(Default, Debug)]
pub struct FileInfo {
    /// `name`.
    pub name: Option<Vec<u8>>,
    /// `dependency`.
    pub deps: Vec<Vec<u8>>,
    /// `package`.
    pub package: Option<Vec<u8>>,
    /// `syntax`.
    pub syntax: Option<Vec<u8>>,
    /// `enum_type`.
    pub enums: Vec<EnumInfo>,
    /// `message_type`.
    pub messages: Vec<TypeInfo>,
    /// `extension`.
    pub extensions: Vec<FieldInfo>,
}

struct Parser<'a, 'm> {
    s: Rd<'a>,
    meter: &'m mut Meter,
    depth: usize,
    max_depth: usize,
}

type R<T> = Result<T, LoadError>;

impl<'a> Parser<'a, '_> {
    fn fail<T>(&self) -> R<T> {
        Err(LoadError::At(self.s.pos()))
    }
    fn tag(&mut self) -> R<Option<u32>> {
        self.meter.step(1).map_err(LoadError::Lua)?;
        Ok(self.s.varint32())
    }
    fn bytes(&mut self) -> R<Vec<u8>> {
        match self.s.bytes() {
            Some(v) => Ok(v.rest().to_vec()),
            None => self.fail(),
        }
    }
    fn int32(&mut self) -> R<i32> {
        match self.s.varint32() {
            Some(v) => Ok(v as i32),
            None => self.fail(),
        }
    }
    fn skip(&mut self, tag: u32) -> R<()> {
        if self.s.skip(tag) {
            Ok(())
        } else {
            self.fail()
        }
    }
    /// Runs `f` over the body of the length-delimited message that follows.
    fn msg<T: Default>(&mut self, f: impl FnOnce(&mut Self, &mut T) -> R<()>) -> R<T> {
        let Some(inner) = self.s.bytes() else {
            return self.fail();
        };
        if self.depth >= self.max_depth {
            return Err(LoadError::TooDeep(self.s.pos()));
        }
        let outer = std::mem::replace(&mut self.s, inner);
        self.depth += 1;
        let mut v = T::default();
        f(self, &mut v)?;
        self.depth -= 1;
        self.s = outer;
        Ok(v)
    }
    fn field(&mut self) -> R<FieldInfo> {
        self.msg(|p, info: &mut FieldInfo| {
            info.packed = -1;
            while let Some(tag) = p.tag()? {
                match tag {
                    t if t == pair(1, W_BYTES) => info.name = Some(p.bytes()?),
                    t if t == pair(3, W_VARINT) => info.number = p.int32()?,
                    t if t == pair(4, W_VARINT) => info.label = p.int32()?,
                    t if t == pair(5, W_VARINT) => info.ty = p.int32()?,
                    t if t == pair(6, W_BYTES) => info.type_name = Some(p.bytes()?),
                    t if t == pair(2, W_BYTES) => info.extendee = Some(p.bytes()?),
                    t if t == pair(7, W_BYTES) => info.default = Some(p.bytes()?),
                    t if t == pair(8, W_BYTES) => {
                        let packed: Option<i32> = p.msg(|p, packed: &mut Option<i32>| {
                            while let Some(tag) = p.tag()? {
                                if tag == pair(2, W_VARINT) {
                                    *packed = Some(p.int32()?);
                                } else {
                                    p.skip(tag)?;
                                }
                            }
                            Ok(())
                        })?;
                        if let Some(v) = packed {
                            info.packed = v;
                        }
                    }
                    t if t == pair(9, W_VARINT) => info.oneof = p.int32()?.wrapping_add(1),
                    _ => p.skip(tag)?,
                }
            }
            Ok(())
        })
    }
    fn enum_type(&mut self) -> R<EnumInfo> {
        self.msg(|p, info: &mut EnumInfo| {
            while let Some(tag) = p.tag()? {
                if tag == pair(1, W_BYTES) {
                    info.name = Some(p.bytes()?);
                } else if tag == pair(2, W_BYTES) {
                    let v: (Option<Vec<u8>>, i32) =
                        p.msg(|p, v: &mut (Option<Vec<u8>>, i32)| {
                            while let Some(tag) = p.tag()? {
                                if tag == pair(1, W_BYTES) {
                                    v.0 = Some(p.bytes()?);
                                } else if tag == pair(2, W_VARINT) {
                                    v.1 = p.int32()?;
                                } else {
                                    p.skip(tag)?;
                                }
                            }
                            Ok(())
                        })?;
                    info.values.push(v);
                } else {
                    p.skip(tag)?;
                }
            }
            Ok(())
        })
    }
    fn message(&mut self) -> R<TypeInfo> {
        self.msg(|p, info: &mut TypeInfo| {
            while let Some(tag) = p.tag()? {
                match tag {
                    t if t == pair(1, W_BYTES) => info.name = Some(p.bytes()?),
                    t if t == pair(2, W_BYTES) => info.fields.push(p.field()?),
                    t if t == pair(6, W_BYTES) => info.extensions.push(p.field()?),
                    t if t == pair(3, W_BYTES) => info.nested.push(p.message()?),
                    t if t == pair(4, W_BYTES) => info.enums.push(p.enum_type()?),
                    t if t == pair(8, W_BYTES) => {
                        let names: Vec<Vec<u8>> = p.msg(|p, names: &mut Vec<Vec<u8>>| {
                            while let Some(tag) = p.tag()? {
                                if tag == pair(1, W_BYTES) {
                                    names.push(p.bytes()?);
                                } else {
                                    p.skip(tag)?;
                                }
                            }
                            Ok(())
                        })?;
                        info.oneofs.extend(names);
                    }
                    t if t == pair(7, W_BYTES) => {
                        let map: Option<i32> = p.msg(|p, map: &mut Option<i32>| {
                            while let Some(tag) = p.tag()? {
                                if tag == pair(7, W_VARINT) {
                                    *map = Some(p.int32()?);
                                } else {
                                    p.skip(tag)?;
                                }
                            }
                            Ok(())
                        })?;
                        if let Some(m) = map {
                            info.is_map = m != 0;
                        }
                    }
                    _ => p.skip(tag)?,
                }
            }
            Ok(())
        })
    }
    fn file(&mut self) -> R<FileInfo> {
        self.msg(|p, info: &mut FileInfo| {
            while let Some(tag) = p.tag()? {
                match tag {
                    t if t == pair(1, W_BYTES) => info.name = Some(p.bytes()?),
                    t if t == pair(3, W_BYTES) => info.deps.push(p.bytes()?),
                    t if t == pair(2, W_BYTES) => info.package = Some(p.bytes()?),
                    t if t == pair(4, W_BYTES) => info.messages.push(p.message()?),
                    t if t == pair(5, W_BYTES) => info.enums.push(p.enum_type()?),
                    t if t == pair(7, W_BYTES) => info.extensions.push(p.field()?),
                    t if t == pair(12, W_BYTES) => info.syntax = Some(p.bytes()?),
                    _ => p.skip(tag)?,
                }
            }
            Ok(())
        })
    }
}

struct Loader<'s> {
    schema: &'s mut Schema,
    prefix: Vec<u8>,
    proto3: bool,
}

impl Loader<'_> {
    fn push_name(&mut self, name: &Option<Vec<u8>>) -> usize {
        let keep = self.prefix.len();
        self.prefix.push(b'.');
        self.prefix
            .extend_from_slice(name.as_deref().unwrap_or_default());
        keep
    }
    fn load_enum(&mut self, e: &EnumInfo) -> Result<(), ()> {
        let keep = self.push_name(&e.name);
        let t = self.schema.new_type(&self.prefix);
        self.schema.types[t].is_enum = true;
        for (name, number) in &e.values {
            self.schema
                .new_field(t, name.as_deref().ok_or(())?, *number);
        }
        self.prefix.truncate(keep);
        Ok(())
    }
    fn load_field(&mut self, info: &FieldInfo, owner: Option<usize>) -> Result<(), ()> {
        let ft = if info.ty == 11 || info.ty == 14 {
            Some(self.schema.new_type(info.type_name.as_deref().ok_or(())?))
        } else {
            None
        };
        let t = match owner {
            Some(t) => t,
            None => self.schema.new_type(info.extendee.as_deref().ok_or(())?),
        };
        let proto3 = self.proto3;
        let f = self
            .schema
            .new_field(t, info.name.as_deref().ok_or(())?, info.number);
        f.default = info.default.clone();
        f.ty = ft;
        f.oneof = info.oneof as u32;
        f.type_id = (info.ty & 31) as u8;
        f.repeated = info.label == 3;
        f.packed = if info.packed >= 0 {
            info.packed != 0
        } else {
            proto3 && f.repeated
        };
        if (9..=12).contains(&f.type_id) {
            f.packed = false;
        }
        if info.oneof != 0 {
            self.schema.types[t].oneof_field += 1;
        }
        Ok(())
    }
    fn load_type(&mut self, info: &TypeInfo) -> Result<(), ()> {
        let keep = self.push_name(&info.name);
        let t = self.schema.new_type(&self.prefix);
        self.schema.types[t].is_map = info.is_map;
        self.schema.types[t].is_proto3 = self.proto3;
        for (i, name) in info.oneofs.iter().enumerate() {
            self.schema.types[t]
                .oneofs
                .insert(i as u32 + 1, name.clone());
        }
        for f in &info.fields {
            self.load_field(f, Some(t))?;
        }
        for f in &info.extensions {
            self.load_field(f, None)?;
        }
        for e in &info.enums {
            self.load_enum(e)?;
        }
        for n in &info.nested {
            self.load_type(n)?;
        }
        self.schema.types[t].oneof_count = info.oneofs.len() as u32;
        self.prefix.truncate(keep);
        Ok(())
    }
    fn load_file(&mut self, f: &FileInfo) -> Result<(), ()> {
        self.prefix.clear();
        if let Some(p) = &f.package {
            self.prefix.push(b'.');
            self.prefix.extend_from_slice(p);
        }
        self.proto3 = f.syntax.as_deref() == Some(b"proto3");
        for e in &f.enums {
            self.load_enum(e)?;
        }
        for m in &f.messages {
            self.load_type(m)?;
        }
        for x in &f.extensions {
            self.load_field(x, None)?;
        }
        Ok(())
    }
}

/// Loads the descriptor set in `data` into `schema`. On success returns
/// the offset reached (the length); a malformed set leaves what was
/// loaded before the fault in place, as lua-protobuf does.
pub fn load(schema: &mut Schema, data: &[u8], meter: &mut Meter) -> Result<usize, LoadError> {
    load_limited(schema, data, meter, MAX_NESTING)
}

/// [`load`] with descriptor messages nesting less than `max_depth` deep.
pub fn load_limited(
    schema: &mut Schema,
    data: &[u8],
    meter: &mut Meter,
    max_depth: usize,
) -> Result<usize, LoadError> {
    let (files, end) = parse_limited(data, meter, max_depth)?;
    let mut l = Loader {
        schema,
        prefix: Vec::new(),
        proto3: false,
    };
    for f in &files {
        if l.load_file(f).is_err() {
            return Err(LoadError::At(end));
        }
    }
    Ok(end)
}

/// Reads the files of the descriptor set in `data` (nesting bounded by
/// [`MAX_NESTING`], each tag charged to `meter`), with the offset reached.
/// pbc's `protobuf.c` builds its own type tables from the same reading.
pub fn parse(data: &[u8], meter: &mut Meter) -> Result<(Vec<FileInfo>, usize), LoadError> {
    parse_limited(data, meter, MAX_NESTING)
}

/// [`parse`] with messages nesting less than `max_depth` deep.
pub fn parse_limited(
    data: &[u8],
    meter: &mut Meter,
    max_depth: usize,
) -> Result<(Vec<FileInfo>, usize), LoadError> {
    let mut p = Parser {
        s: Rd::new(data),
        meter,
        depth: 0,
        max_depth,
    };
    let mut files = Vec::new();
    while let Some(tag) = p.tag()? {
        if tag == pair(1, W_BYTES) {
            files.push(p.file()?);
        } else {
            p.skip(tag)?;
        }
    }
    let end = p.s.pos();
    Ok((files, end))
}
