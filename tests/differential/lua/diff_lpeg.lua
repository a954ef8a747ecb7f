-- LPeg and re, case by case: each line is a case's name and its outcome.
-- Run by Debian's lua5.4 with lua-lpeg and by skyhold (runner.lua).
--
-- Debian ships LPeg 1.0.2; skyhold implements LPeg 1.1 (what skynet
-- vendors). The cases keep to what the two versions share: no
-- lpeg.version (a function in 1.0, a string in 1.1), no lpeg.utfR, no
-- accumulator capture (%), no captures inside lpeg.B.
local lpeg = require "lpeg"
local re = require "re"
local S = require "show"
local show, try = S.show, S.try
local P, R, Sset, V, C, Cc, Cp, Ct, Cg, Cb, Cs, Cf, Cmt, Carg, B =
	lpeg.P, lpeg.R, lpeg.S, lpeg.V, lpeg.C, lpeg.Cc, lpeg.Cp, lpeg.Ct, lpeg.Cg, lpeg.Cb,
	lpeg.Cs, lpeg.Cf, lpeg.Cmt, lpeg.Carg, lpeg.B

local function m(name, p, subject, ...)
	print(name, try(lpeg.match, p, subject, ...))
end

-- Making patterns, and what goes wrong making them.
local function mk(name, f, ...)
	local r = table.pack(pcall(f, ...))
	if r[1] then
		print(name, "ok " .. (lpeg.type(r[2]) or show(r[2])))
	else
		print(name, try(f, ...))
	end
end

print("type", lpeg.type(P"a"), show(lpeg.type("a")), show(lpeg.type(1)), show(lpeg.type({})))

-- Basic patterns.
m("P.str", P"abc", "abcdef")
m("P.str.fail", P"abc", "abd")
m("P.empty", P"", "xyz")
m("P.n.3", P(3), "abcd")
m("P.n.5", P(5), "abcd")
m("P.n.0", P(0), "")
m("P.n.neg", P(-2), "a")
m("P.n.neg2", P(-2), "abc")
m("P.true", P(true), "x")
m("P.false", P(false), "x")
m("P.fn", P(function(s, i) return i + 1 end), "abc")
m("P.fn.false", P(function() return false end), "abc")
m("P.fn.pos", P(function(s, i) return 3 end), "abcd")
m("P.fn.bad", P(function(s, i) return 99 end), "abcd")
m("P.fn.back", P(function(s, i) return 1 end), "abcd", 3)
m("R.az", R"az" ^ 1, "hello World")
m("R.multi", R("az", "AZ", "09") ^ 1, "Hello123 x")
m("R.none", R() ^ 0, "abc")
m("S.set", Sset"aeiou" ^ 1, "aeixyz")
m("S.empty", Sset"" , "a")
m("seq", P"a" * P"b", "abc")
m("alt", P"x" + P"a", "abc")
m("not", -P"x" * 1, "abc")
m("not2", -P"a" * 1, "abc")
m("and", #P"a" * C(1), "abc")
m("diff", (1 - P"c") ^ 0, "abcd")
m("rep.0", P"a" ^ 0, "aaab")
m("rep.2", P"a" ^ 2, "ab")
m("rep.2b", P"a" ^ 2, "aaab")
m("rep.neg1", P"a" ^ -1, "aab")
m("rep.neg2", C(P"a" ^ -2), "aaab")
m("B.ok", P"ab" * B"b", "abc")
m("B.fail", P"ab" * B"a", "abc")
m("B.start", B"a", "abc")
m("B.set", 1 * B(Sset"xa"), "abc")
m("init.2", C(P"b"), "abc", 2)
m("init.neg", C(P(1)), "abc", -1)
m("init.big", P(true), "abc", 10)
m("init.negbig", Cp(), "abc", -10)
m("init.0", Cp(), "abc", 0)
m("init.float", Cp(), "abc", 2.0)
m("subject.num", C(P(2)), 12345)
m("longsubject", Cp(), string.rep("a", 100000) .. "b", 100001)

-- Captures.
m("C", C(P"a" ^ 1), "aaab")
m("C.nested", C(C"a" * C"b"), "abc")
m("Cc", Cc(1, "x", true, nil), "")
m("Cc.none", Cc(), "")
m("Cp", P"ab" * Cp(), "abc")
m("Ct", Ct(C(1) ^ 0), "abc")
m("Ct.named", Ct(Cg(C(1), "first") * Cg(C(1), "second") * C(1)), "abc")
m("Ct.empty", Ct(P""), "abc")
m("Cg.anon", Cg(C"a" * C"b") , "abc")
m("Cg.multi", Ct(Cg(Cc(1, 2), "k")), "")
m("Cb", Cg(C(1), "x") * Cb"x" * Cb"x", "abc")
m("Cb.missing", Cb"nope", "abc")
m("Cb.scope", Ct(Cg(C"a", "t") * Cg(C"b", "t") * Cb"t"), "ab")
m("Cs", Cs((P"a" / "A" + 1) ^ 0), "banana")
m("Cs.nested", Cs(C"x" / "[%1]" * (P"y" / "") * P"z"), "xyz")
m("Cf", Cf(C(R"09") * (P"," * C(R"09")) ^ 0, function(a, b) return a + b end), "1,2,3,4")
m("Cf.empty", Cf(P"", print), "x")
m("Cf.table", Cf(Ct"" * Cg(C(1) * C(1)) ^ 0, rawset), "aAbBcC")
m("Cmt.true", Cmt(C(1), function(s, i, c) return true, c:upper() end), "abc")
m("Cmt.pos", Cmt(P(1), function(s, i) return i + 1 end), "abc")
m("Cmt.false", Cmt(P(1), function() return false end), "abc")
m("Cmt.nil", Cmt(P(1), function() return nil end), "abc")
m("Cmt.bad", Cmt(P(1), function() return 100 end), "abc")
m("Cmt.back", Cmt(P(2), function() return 1 end), "abc")
m("Cmt.str", Cmt(P(1), function() return "x" end), "abc")
m("Cmt.values", Cmt(C(1) * C(1), function(s, i, a, b) return i, b, a end), "abc")
m("Carg", Carg(2) * Carg(1), "", 1, "one", "two")
m("Carg.missing", Carg(3), "", 1, "a")
mk("Carg.0", Carg, 0)
mk("Carg.big", Carg, 100)
m("div.str", C(1) / "<%0|%1>", "abc")
m("div.str.bad", C(1) / "%2", "abc")
m("div.str.pct", P(1) / "%%", "abc")
m("div.str.pctx", P(1) / "%x", "abc")
m("div.num", (C(1) * C(1) * C(1)) / 2, "abc")
m("div.num0", (C(1) * C(1)) / 0, "abc")
m("div.num.big", C(1) / 3, "abc")
m("div.tbl", C(1) / { a = "A" }, "abc")
m("div.tbl.miss", C(1) / { b = "B" }, "abc")
m("div.fn", (C(1) * C(1)) / function(a, b) return b, a, "!" end, "abc")
m("div.fn.none", C(1) / function() end, "abc")
m("many", Ct(C(1) ^ 0), string.rep("x", 1000))

-- Grammars.
local balanced = P{ "(" * ((1 - Sset"()") + V(1)) ^ 0 * ")" }
m("g.balanced", C(balanced), "(a(b)c)d")
m("g.balanced.fail", balanced, "(a(b c")
local arith = P{
	"Exp",
	Exp = Ct(V"Term" * (C(Sset"+-") * V"Term") ^ 0),
	Term = Ct(V"Factor" * (C(Sset"*/") * V"Factor") ^ 0),
	Factor = C(R"09" ^ 1) + "(" * V"Exp" * ")",
}
m("g.arith", arith, "1+2*(3-4)/5")
m("g.named", P{ "a", a = C"x" * V"b", b = C"y" }, "xy")
mk("g.leftrec", P, { "a", a = V"a" * "x" })
mk("g.leftrec2", P, { "a", a = V"b" * "x", b = P"" * V"a" })
mk("g.undefined", P, { "a", a = V"b" })
mk("g.noinit", P, { a = P"x" })
mk("g.badinit", P, { "z", a = P"x" })
mk("g.badrule", P, { "a", a = 12.5 })
mk("g.loop", function() return P"" ^ 0 end)
mk("g.loop2", function() return (P"a" ^ 0) ^ 1 end)
mk("g.loopg", P, { "a", a = (V"b") ^ 0, b = P"" })
mk("V.open", function() local r = lpeg.match(V"x", "a") return r end)
mk("P.nil", P, nil)
mk("P.tbl.bad", P, {})
mk("R.bad", R, "abc")
mk("R.bad2", R, "a")
mk("Cg.badname", function() return Cg(C(1), {}) end)
mk("div.bad", function() return P(1) / true end)
m("match.badarg", {}, "x")
print("match.nosubject", try(lpeg.match, P(1)))

-- lpeg.locale.
local loc = lpeg.locale()
local names = {}
for k in pairs(loc) do
	names[#names + 1] = k
end
table.sort(names)
print("locale.names", table.concat(names, ","))
for _, k in ipairs(names) do
	local chars = {}
	for c = 0, 255 do
		if lpeg.match(loc[k], string.char(c)) then
			chars[#chars + 1] = c
		end
	end
	print("locale." .. k, #chars, table.concat(chars, " "))
end
local t = {}
print("locale.into", show(lpeg.locale(t) == t), show(lpeg.type(t.alpha)))

-- Matching pattern-like values directly.
m("auto.str", "ab", "abc")
m("auto.num", 2, "abc")
m("auto.bool", true, "abc")
m("auto.fn", function(s, i) return i end, "abc")

-- re.
local function rm(name, pat, subject, ...)
	print(name, try(re.match, subject, pat, ...))
end
rm("re.lit", "'abc'", "abcd")
rm("re.dq", '"a" "b"', "abc")
rm("re.class", "[a-z]+", "hello World")
rm("re.negclass", "[^a-z]+", "HELLO world")
rm("re.classes", "{%d+} %s* {%a+}", "42  apples")
rm("re.allclasses", "{%w%p%c%u%l%x%S%D%A%W%P%C%U%L%X}", "a!\1Bcf?x\0Z#aA\2\0Z")
rm("re.any", "{...}", "abcd")
rm("re.opt", "'a'? 'b'", "b")
rm("re.star", "{'ab'*}", "ababx")
rm("re.plus", "{'ab'+}", "x")
rm("re.rep.n", "{'a'^2}", "aaa")
rm("re.rep.plus", "{'a'^+2}", "a")
rm("re.rep.minus", "{'a'^-2}", "aaaa")
rm("re.and", "&'a' {.}", "abc")
rm("re.not", "!'a' {.}", "abc")
rm("re.seq.alt", "{'x' / 'ab'}", "abc")
rm("re.cap.table", "{| {%a+} (' ' {%a+})* |}", "one two three")
rm("re.cap.named", "{| {:k: %a+ :} '=' {:v: %d+ :} |}", "width=42")
rm("re.cap.pos", "'ab' {}", "abc")
rm("re.cap.const", "'a' {`x`}", "abc")
rm("re.cap.const2", "'a' (''->'x')", "abc")
rm("re.subst", "{~ ('a' -> 'A' / .)* ~}", "banana")
rm("re.fn", "{%a+} -> f", "hello", nil)
rm("re.defs", "{%a+} -> up", "hello")
rm("re.num", "({.} {.}) -> 2", "ab")
rm("re.back", "{:q: ['\"] :} {(!=q .)*} =q", "'it''s'")
rm("re.grammar", [[
	list <- {| item (',' item)* |}
	item <- %s* { [^,]+ }
]], "a, b,c")
rm("re.grammar.rec", [[
	S <- '(' S* ')' / [^()]
]], "((a)(b))")
rm("re.init", "{%a}", "12ab", 3)
rm("re.comment", "{'a'} -- a comment\n", "ab")
rm("re.arrow", "[0-9]+ => f", "123", nil)
rm("re.fold", "{~ ({%d} -> '%1%1' / .)* ~}", "a1b2")
rm("re.anychar", "{.*}", "\0\255x")
rm("re.range", "{[%d-]+}", "12-3a")
rm("re.rangechars", "{[]-]+}", "]-]a")
print("re.find", try(re.find, "hello world", "{'o'}"))
print("re.find.none", try(re.find, "hello", "'z'"))
print("re.find.init", try(re.find, "hello world", "'o'", 6))
print("re.find.pos", try(re.find, "abc", "{}'c'"))
print("re.gsub", try(re.gsub, "hello world", "'o'", "0"))
print("re.gsub.cap", try(re.gsub, "abc", "{.}", "%1%1"))
print("re.gsub.fn", try(re.gsub, "abc", "{.}", string.upper))
print("re.gsub.tbl", try(re.gsub, "abc", "{.}", { a = "1", c = "3" }))
print("re.compile.type", lpeg.type(re.compile("'a'")))
print("re.compile.defs", try(lpeg.match, re.compile("%x %y", { x = P"a", y = C(P"b") }), "ab"))
print("re.compile.deffn", try(lpeg.match, re.compile("{.} -> f", { f = string.upper }), "ab"))
print("re.updatelocale", try(re.updatelocale))

-- re's syntax errors, with their positions.
local bad = {
	"'abc", "[a-", "{", "'a' /", "(", "a <- ", "%q", "{:a 'x':}", "x <- 'a' y",
	"'a' -> ", "{~ 'a'", "{| 'a'", "'a'^", "'a'^x", "'a' ->", "=q", "<x>", "[]",
	"a <- 'x' a <- 'y'", "'a' }", ")", "'a' 'b' )", "{: 'a' :}", "a <- b b <- a",
}
for i, p in ipairs(bad) do
	print("re.bad." .. i, try(re.compile, p))
end
local bad2 = {
	"<x", "&", "!", "'a' &", "'a' !!", "{: 'a'", "{:x: 'a'", "{| {~ 'a' |}", "( 'a' ]", "{ 'a' ]",
	"'a' => ", "'a' ~> ", "'a' -> 'x", "'a' ^ ", "'a'^+", "[a]]", "'a' / / 'b'", "{{'a'}",
	"'a' -> {} ->", "x <- 'a' / ", "x <- y y <-", "'a'\n'b' )",
}
for i, p in ipairs(bad2) do
	print("re.bad2." .. i, try(re.compile, p))
end

-- Errors raised by calls from Lua code (not through pcall directly): LPeg's
-- errors carry the caller's position, argument errors name the function as
-- the caller called it. (The calls are not in tail position: see
-- docs/native-modules.md.)
print("pos.arg", try(function() local r = lpeg.P(nil) return r end))
print("pos.local", try(function() local r = P(nil) return r end))
print("pos.method", try(function() local r = P"a":match() return r end))
print("pos.match", try(function() local r = lpeg.match(C(1) / "%5", "abc") return r end))
print("pos.meta", try(function() local r = P"a" + nil return r end))
print("pos.leftrec", try(function() local r = P{ "a", a = V"a" } return r end))
print("pos.callback", try(function()
	local r = lpeg.match(Cmt(P(1), function() error("from the callback") end), "a")
	return r
end))
print("pos.callback.level0", try(function()
	local r = lpeg.match(Cmt(P(1), function() error("bare", 0) end), "a")
	return r
end))

-- LPeg's errors while re builds a pattern.
local bad3 = { "''*", "('a'?)+", "x <- x 'a'", "x <- ('a'?)* 'b'", "x <- 'a' / y" }
for i, p in ipairs(bad3) do
	print("re.bad3." .. i, try(re.compile, p))
end
