//! Reads arbitrary bytes as a JSON document the way `cjson.decode` does.
//! The first byte picks the settings (invalid numbers, comments, a small
//! depth limit). The reader must stay within its bounds whatever arrives:
//! balanced containers, never deeper than the limit, no string longer than
//! the input. Then the same bytes go through a Lua state's `cjson.decode`;
//! what decodes must encode (invalid numbers allowed) and decode again.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua, MultiValue, Value};
use skyhold_cjson::decode::{decode, DecodeError, DecodeOptions, Scalar, Sink};

/// Checks the reader's calls without building anything.
struct Check {
    input_len: usize,
    max_depth: usize,
    depth: usize,
    has_value: bool,
    steps: i64,
}

impl Sink for Check {
    type Error = ();
    fn scalar(&mut self, v: Scalar<'_>) -> Result<(), ()> {
        if let Scalar::Str(s) = v {
            assert!(s.len() <= self.input_len);
        }
        self.has_value = true;
        Ok(())
    }
    fn begin(&mut self, _array: bool) -> Result<(), ()> {
        self.depth += 1;
        assert!(self.depth <= self.max_depth);
        self.has_value = false;
        Ok(())
    }
    fn key(&mut self, k: &[u8]) -> Result<(), ()> {
        assert!(self.depth > 0 && k.len() <= self.input_len);
        Ok(())
    }
    fn store(&mut self) -> Result<(), ()> {
        assert!(self.depth > 0 && self.has_value);
        self.has_value = false;
        Ok(())
    }
    fn end(&mut self) -> Result<(), ()> {
        assert!(self.depth > 0);
        self.depth -= 1;
        self.has_value = true;
        Ok(())
    }
    fn charge(&mut self, steps: i64) -> Result<(), ()> {
        assert!(steps > 0);
        self.steps += steps;
        Ok(())
    }
}

thread_local! {
    static LUA: (Lua, Function) = {
        let lua = Lua::new();
        let cjson = skyhold_cjson::open(&lua, false).expect("cjson");
        cjson
            .get::<Function>("encode_invalid_numbers")
            .and_then(|f| f.call::<MultiValue>(true))
            .expect("settings");
        let f: Function = lua
            .load(
                "local cjson = ...
                 return function(s)
                     local ok, v = pcall(cjson.decode, s)
                     if not ok then return false end
                     local text = cjson.encode(v)
                     cjson.decode(text)
                     return true
                 end",
            )
            .call(cjson)
            .expect("checker");
        (lua, f)
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, doc)) = data.split_first() else {
        return;
    };
    let opts = DecodeOptions {
        max_depth: if first & 4 != 0 { 8 } else { 1000 },
        invalid_numbers: first & 1 != 0,
        allow_comment: first & 2 != 0,
    };
    let mut check = Check {
        input_len: doc.len(),
        max_depth: opts.max_depth,
        depth: 0,
        has_value: false,
        steps: 0,
    };
    match decode(doc, opts, &mut check) {
        Ok(()) => assert!(check.depth == 0 && check.has_value),
        Err(DecodeError::Syntax(m)) => assert!(!m.is_empty()),
        Err(DecodeError::Sink(())) => unreachable!("the checker never fails"),
    }
    LUA.with(|(lua, f)| {
        let s = lua.create_string(doc).expect("string");
        let r: Value = f.call(s).expect("a decoded document encodes and decodes again");
        assert!(matches!(r, Value::Boolean(_)));
    });
});
