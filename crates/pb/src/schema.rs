//! The type database a `pb` state holds: message, enum and map types by
//! full name (`.package.Name`), their fields by number and by name.
//!
//! Types are never removed, only marked dead (`pb.clear`), so a type's
//! index names it for as long as the state lives; hooks and default
//! tables are keyed by that index.

use crate::table::IntTable;
use std::collections::HashMap;

/// One field of a message (or one value of an enum).
#[derive(Clone, Debug, Default)]
pub struct Field {
    /// Field name.
    pub name: Vec<u8>,
    /// The message/enum type of the field (for an enum value: its enum).
    pub ty: Option<usize>,
    /// `default_value` from the descriptor, as written there.
    pub default: Option<Vec<u8>>,
    /// Field number (enum value number).
    pub number: i32,
    /// 1-based index of the oneof the field is in, 0 for none.
    pub oneof: u32,
    /// Field type id (see [`crate::wire::t`]).
    pub type_id: u8,
    /// Label repeated.
    pub repeated: bool,
    /// Packed encoding.
    pub packed: bool,
}

/// One type.
#[derive(Clone, Debug, Default)]
pub struct Type {
    /// Full name with the leading dot.
    pub name: Vec<u8>,
    /// The fields; `None` where a field was removed.
    pub fields: Vec<Option<Field>>,
    /// Field indices by number, in lua-protobuf's slot order.
    pub tags: IntTable,
    /// Field indices by name.
    pub names: HashMap<Vec<u8>, u32>,
    /// Oneof names by 1-based index.
    pub oneofs: HashMap<u32, Vec<u8>>,
    /// Number of oneofs.
    pub oneof_count: u32,
    /// Number of fields inside oneofs.
    pub oneof_field: u32,
    /// Number of live fields.
    pub field_count: u32,
    /// An enum.
    pub is_enum: bool,
    /// A map entry.
    pub is_map: bool,
    /// Declared in a proto3 file.
    pub is_proto3: bool,
    /// Removed by `pb.clear`.
    pub is_dead: bool,
}

impl Type {
    /// The part of the name after the last dot.
    pub fn basename(&self) -> &[u8] {
        match self.name.iter().rposition(|c| *c == b'.') {
            Some(i) => &self.name[i + 1..],
            None => &self.name,
        }
    }
    /// The field numbered `n`.
    pub fn field(&self, n: i64) -> Option<&Field> {
        let i = self.tags.get(n)?;
        self.fields.get(i as usize)?.as_ref()
    }
    /// The field named `name`.
    pub fn fname(&self, name: &[u8]) -> Option<&Field> {
        let i = *self.names.get(name)?;
        self.fields.get(i as usize)?.as_ref()
    }
    /// The fields in lua-protobuf's iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &Field> + '_ {
        self.tags
            .values()
            .into_iter()
            .filter_map(move |i| self.fields.get(i as usize).and_then(|f| f.as_ref()))
    }
    /// The field after `prev` in iteration order.
    pub fn next_field(&self, prev: Option<&Field>) -> Option<&Field> {
        let i = self.tags.next_after(prev.map(|f| i64::from(f.number)))?;
        self.fields.get(i as usize)?.as_ref()
    }
    /// The fields sorted by number, with each one's 1-based position.
    pub fn sorted(&self) -> Vec<&Field> {
        let mut v: Vec<&Field> = self.iter().collect();
        v.sort_by_key(|f| f.number);
        v
    }
    /// The name of oneof `idx`.
    pub fn oneof_name(&self, idx: u32) -> Option<&[u8]> {
        self.oneofs.get(&idx).map(|v| v.as_slice())
    }
}

/// All types of one state.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Types in the order they were first named.
    pub types: Vec<Type>,
    /// Type indices by full name.
    pub by_name: HashMap<Vec<u8>, usize>,
}

impl Schema {
    /// The live type named `name` (full name).
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        let i = *self.by_name.get(name)?;
        (!self.types[i].is_dead).then_some(i)
    }

    /// The type named `name`, created (or revived) if need be.
    pub fn new_type(&mut self, name: &[u8]) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            self.types[i].is_dead = false;
            return i;
        }
        let i = self.types.len();
        self.types.push(Type {
            name: name.to_vec(),
            ..Type::default()
        });
        self.by_name.insert(name.to_vec(), i);
        i
    }

    /// Adds field `name` = `number` to type `t`; a field of the same name
    /// and number is kept (its default cleared), one sharing only the name
    /// or the number is replaced.
    pub fn new_field(&mut self, t: usize, name: &[u8], number: i32) -> &mut Field {
        let ty = &mut self.types[t];
        let by_name = ty.names.get(name).copied();
        let by_num = ty.tags.get(i64::from(number));
        if let (Some(a), Some(b)) = (by_name, by_num) {
            if a == b {
                let f = ty.fields[a as usize].as_mut().expect("live field");
                f.default = None;
                return ty.fields[a as usize].as_mut().expect("live field");
            }
        }
        let idx = ty.fields.len() as u32;
        ty.fields.push(Some(Field {
            name: name.to_vec(),
            ty: Some(t),
            number,
            ..Field::default()
        }));
        // Whatever the new field displaces from both indexes is gone
        // unless the other index still points at it.
        for old in [by_name, by_num].into_iter().flatten() {
            let (oname, onum) = match &ty.fields[old as usize] {
                Some(f) => (f.name.clone(), f.number),
                None => continue,
            };
            let still_named = oname != name && ty.names.get(&oname) == Some(&old);
            let still_numbered = onum != number && ty.tags.get(i64::from(onum)) == Some(old);
            if !still_named && !still_numbered {
                ty.fields[old as usize] = None;
                ty.field_count -= 1;
            }
        }
        ty.names.insert(name.to_vec(), idx);
        ty.tags.set(i64::from(number), Some(idx));
        ty.field_count += 1;
        ty.fields[idx as usize].as_mut().expect("new field")
    }

    /// Empties type `t` and marks it dead.
    pub fn del_type(&mut self, t: usize) {
        let ty = &mut self.types[t];
        ty.fields.clear();
        ty.tags = IntTable::default();
        ty.names.clear();
        ty.oneofs.clear();
        ty.oneof_field = 0;
        ty.field_count = 0;
        ty.is_dead = true;
    }

    /// Removes the field numbered `number` from type `t`.
    pub fn del_field(&mut self, t: usize, number: i32) {
        let ty = &mut self.types[t];
        let Some(idx) = ty.tags.get(i64::from(number)) else {
            return;
        };
        let Some(f) = ty.fields[idx as usize].take() else {
            return;
        };
        ty.tags.kill(i64::from(number), idx);
        if ty.names.get(&f.name) == Some(&idx) {
            ty.names.remove(&f.name);
        }
        if f.oneof != 0 {
            ty.oneof_field = ty.oneof_field.saturating_sub(1);
        }
        ty.field_count = ty.field_count.saturating_sub(1);
    }

    /// The live type after `prev` (the first for `None`).
    pub fn next_type(&self, prev: Option<usize>) -> Option<usize> {
        let from = prev.map_or(0, |i| i + 1);
        (from..self.types.len()).find(|&i| !self.types[i].is_dead)
    }
}
