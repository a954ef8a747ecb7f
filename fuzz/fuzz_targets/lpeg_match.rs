//! Builds a small lpeg pattern from the input (a little stack program over
//! lpeg's constructors and operators, grammars included), then matches it
//! against the rest of the input: errors are fine, panics are not.

#![no_main]

use libfuzzer_sys::fuzz_target;

const OPS: &[&str] = &[
    "push(P(s(1)))",
    "push(S(s(3)))",
    "push(R(s(1)..s(1)))",
    "push(P(n(4) - 2))",
    "push(V(n(3)))",
    "push(Cp())",
    "push(Cc(n(9)))",
    "push(Carg(1))",
    "push(utfR(n(300), 300 + n(3000)))",
    "local b = pop(); push(pop() * b)",
    "local b = pop(); push(pop() + b)",
    "local b = pop(); push(pop() - b)",
    "push(pop() ^ (n(5) - 2))",
    "push(#pop())",
    "push(-pop())",
    "push(C(pop()))",
    "push(Ct(pop()))",
    "push(Cs(pop()))",
    "push(Cg(pop(), 'g'))",
    "push(Cb('g'))",
    "push(pop() / '%0%1')",
    "push(pop() / 1)",
    "push(pop() / {a = 1})",
    "push(pop() / function(...) return ... end)",
    "push(Cmt(pop(), function(_, i) return i end))",
    "push(Cf(pop(), function(a) return a end))",
    "push(B(pop()))",
    "local b = pop(); push(P{ pop() + V(2), b })",
    "push(P{ pop() })",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = usize::from(data[0]) % data.len();
    let (prog, subject) = data[1..].split_at(split.min(data.len() - 1));
    let lua = mlua::Lua::new();
    let Ok(lpeg) = skyhold_lpeg::open(&lua) else { return };
    let _ = lua.globals().set("lpeg", lpeg);
    let mut src = String::from(
        "local P,S,R,V,C,Ct,Cs,Cg,Cb,Cc,Cp,Cf,Cmt,Carg,B,utfR = lpeg.P,lpeg.S,lpeg.R,lpeg.V,lpeg.C,lpeg.Ct,lpeg.Cs,lpeg.Cg,lpeg.Cb,lpeg.Cc,lpeg.Cp,lpeg.Cf,lpeg.Cmt,lpeg.Carg,lpeg.B,lpeg.utfR
         local code, subject = ...
         local at, stack = 1, {}
         local function n(k) local b = code:byte(at) or 0; at = at + 1; return b % k end
         local function s(k) local t = code:sub(at, at + k - 1); at = at + k; if #t == 0 then t = 'a' end; return t end
         local function push(p) stack[#stack + 1] = p end
         local function pop() local p = table.remove(stack); return p or P(1) end
         local ops = {",
    );
    for op in OPS {
        src.push_str(&format!("function() {op} end,"));
    }
    src.push_str(
        "}
         while at <= #code do
           local op = ops[n(#ops) + 1]
           local ok = pcall(op)
         end
         lpeg.setmaxstack(1000)
         for _, p in ipairs(stack) do pcall(lpeg.match, p, subject, 1, 'x') end",
    );
    let f = lua.load(src).into_function().expect("fuzz driver compiles");
    let _ = f.call::<()>((
        lua.create_string(prog).expect("string"),
        lua.create_string(subject).expect("string"),
    ));
});
