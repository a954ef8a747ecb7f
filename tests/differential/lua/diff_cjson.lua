-- lua-cjson, case by case: each line is a case's name and its outcome.
-- Run by Debian's lua5.4 with lua-cjson and by skyhold (runner.lua).
--
-- Debian ships lua-cjson 2.1.0, which knows no Lua integers: it encodes
-- every number as a double with %.14g and decodes every number as a float.
-- skyhold follows openresty's 2.1.0.x, which encodes integers with %lld and
-- decodes integral numbers as integers. Both write the same text for
-- integers of at most 14 digits, so encoded integers here stay below 1e14,
-- and decoded values are shown with show.lua's %.17g (the same text for
-- 3 and 3.0). Integer behaviour beyond that is checked against openresty's
-- lua-cjson in crates/cjson/tests/vectors.lua.
local cjson = require "cjson"
local safe = require "cjson.safe"
local S = require "show"
local show, try = S.show, S.try

local function enc(name, v, inst)
	print(name, try((inst or cjson).encode, v))
end

local function dec(name, text, inst)
	print(name, try((inst or cjson).decode, text))
end

-- Encoding then decoding: for objects of several keys, whose text order is
-- the order of `next` (seeded per state by Lua 5.4).
local function round(name, v, inst)
	inst = inst or cjson
	local ok, text = pcall(inst.encode, v)
	if not ok then
		print(name, "error " .. S.str(text:gsub("[^%s:]*/([%w_]+%.lua:)", "%1")))
		return
	end
	print(name, #text, try(inst.decode, text))
end

print("null", show(cjson.null == cjson.decode("null")), type(cjson.null))
print("defaults", S.all(cjson.encode_sparse_array()), S.all(cjson.encode_max_depth()),
	S.all(cjson.decode_max_depth()), S.all(cjson.encode_number_precision()),
	S.all(cjson.encode_invalid_numbers()), S.all(cjson.decode_invalid_numbers()),
	S.all(cjson.encode_keep_buffer()))

-- Scalars.
enc("enc.true", true)
enc("enc.false", false)
enc("enc.null", cjson.null)
enc("enc.nil", nil)
enc("enc.str.empty", "")
enc("enc.str.plain", "hello world")
enc("enc.str.quote", 'say "hi"')
enc("enc.str.backslash", "a\\b")
enc("enc.str.slash", "a/b</script>")
enc("enc.str.bs", "\b\f\n\r\t")
enc("enc.str.del", "\127")
enc("enc.str.nul", "a\0b")
for c = 0, 31 do
	enc("enc.ctl." .. c, string.char(c))
end
enc("enc.str.utf8", "h\195\169llo \226\130\172 \240\159\152\128")
enc("enc.str.invalid_utf8", "\255\254\192\128")
enc("enc.str.high", "\128\200\250")
enc("enc.str.long", string.rep("abc\"", 300))
local bytes = {}
for c = 0, 255 do
	bytes[#bytes + 1] = string.char(c)
end
enc("enc.str.allbytes", table.concat(bytes))
enc("enc.key.null", { [cjson.null] = 1 })
enc("enc.key.escaped", { ["a\"b\n"] = 1 })
round("round.key.int", { [7] = "x", [8] = "y", n = 1 })
enc("enc.nested.empty", { {}, { {} }, { a = {} } })

-- Numbers.
local numbers = {
	0, 1, -1, 7, 100, 123456789, -123456789, 2147483647, 2147483648, -2147483649,
	4294967296, 99999999999999, -99999999999999, 0.5, -0.5, 0.1, 0.2, 0.3, 1 / 3,
	2 / 3, 3.14159265358979, 1e10, 1e15, 1e16, 1e21, 1e22, 1e100, 1e300, 1.7976931348623157e308,
	2.2250738585072014e-308, 5e-324, 1e-7, 1e-5, 0.0001, 123.456, -0.0, 2^53, 2^63, -2^63,
	100.0, 1.5e-10, 6.02214076e23, 12345678901234.5, 0.1 + 0.2,
}
for i, n in ipairs(numbers) do
	enc("enc.num." .. i, n)
end
for p = 1, 14 do
	cjson.encode_number_precision(p)
	enc("enc.prec." .. p, { 1 / 3, 123456.789, 1e-10 / 3, 2 / 3 * 1e20, 0.1, 10.0, 1e15 })
end
cjson.encode_number_precision(14)

-- Invalid numbers.
for _, setting in ipairs({ false, true, "null" }) do
	print("set.invalid." .. tostring(setting), S.all(cjson.encode_invalid_numbers(setting)))
	enc("enc.inf." .. tostring(setting), math.huge)
	enc("enc.ninf." .. tostring(setting), -math.huge)
	enc("enc.nan." .. tostring(setting), { 0 / 0 })
end
cjson.encode_invalid_numbers(false)

-- Tables: arrays, objects, sparse arrays.
enc("enc.empty", {})
enc("enc.arr", { 1, 2, 3 })
enc("enc.arr.mixed", { 1, "two", true, cjson.null, { 5 } })
enc("enc.arr.nested", { { {} }, { { 1 } } })
enc("enc.obj.one", { a = 1 })
enc("enc.obj.numkey", { [1.5] = "x" })
enc("enc.obj.negkey", { [-1] = "x" })
enc("enc.obj.zerokey", { [0] = "x" })
enc("enc.obj.strnum", { ["1"] = "x" })
enc("enc.obj.nested", { a = { b = { c = { 1, 2 } } } })
enc("enc.key.bool", { [true] = 1 })
enc("enc.key.table", { [{}] = 1 })
enc("enc.func", function() end)
enc("enc.func.in", { 1, print })
enc("enc.thread", coroutine.create(function() end))
round("round.obj", { a = 1, b = "two", c = { 3 }, d = cjson.null, e = false })
round("round.mixed", { 1, 2, x = 3 })
round("round.holes", { [1] = 1, [3] = 3 })
round("round.keys", { [1] = "a", [2] = "b", ["3"] = "c" })

-- Sparse arrays under the default (false, 2, 10) and other settings.
local sparse = {
	{ [1] = "a", [2] = "b", [4] = "d" },
	{ [1] = "a", [5] = "e" },
	{ [2] = "b" },
	{ [11] = "k" },
	{ [10] = "j" },
	{ [3] = "c", [20] = "t" },
	{ [1] = 1, [2] = 2, [3] = 3, [7] = 7 },
	{ [1000] = 1 },
}
local settings = {
	{ false, 2, 10 }, { true, 2, 10 }, { false, 1, 10 }, { false, 0, 10 },
	{ true, 3, 5 }, { false, 2, 0 }, { true, 1, 1 },
}
for si, s in ipairs(settings) do
	print("set.sparse." .. si, S.all(cjson.encode_sparse_array(s[1], s[2], s[3])))
	for i, t in ipairs(sparse) do
		round("sparse." .. si .. "." .. i, t)
	end
end
cjson.encode_sparse_array(false, 2, 10)

-- Depth.
local function nest(n)
	local t = {}
	for _ = 1, n do
		t = { t }
	end
	return t
end
enc("depth.999", #cjson.encode(nest(999)))
enc("depth.1000", nest(1000))
enc("depth.1001", nest(1001))
print("set.depth", S.all(cjson.encode_max_depth(5)))
enc("depth.5", nest(4))
enc("depth.6", nest(5))
enc("depth.obj", { a = { b = { c = { d = { e = { f = 1 } } } } } })
cjson.encode_max_depth(1000)
local cyc = {}
cyc[1] = cyc
enc("depth.cycle", cyc)

-- Decoding.
local docs = {
	'null', 'true', 'false', '0', '-0', '1', '-1', '1.5', '-1.5e3', '1E2', '1e-2', '0.000001',
	'123456789012345678901234567890', '1e400', '-1e400', '1e-400', '3.141592653589793238',
	'"abc"', '""', '"\\""', '"\\\\"', '"\\/"', '"\\b\\f\\n\\r\\t"', '"\\u0041"', '"\\u00e9"',
	'"\\u20ac"', '"\\uD83D\\uDE00"', '"\\ud83d\\ude00"', '"\\u0000"', '"\\uDC00"', '"\\uD800"',
	'"\\uD800x"', '"\\uD800\\u0041"', '"\\u12"', '"\\u12g4"', '"\\x41"', '"\\a"',
	'"tab\there"', '"nl\nhere"', '"\127"', '"\255\254"',
	'[]', '{}', '[1,2,3]', '[ 1 , 2 , 3 ]', ' \t\r\n[1]\n ', '{"a":1}', '{"a":{"b":[1,{"c":null}]}}',
	'[null,null]', '{"a":null}', '{"1":"one","2":"two"}', '[[[[[]]]]]',
	'', ' ', '[', ']', '{', '}', '[1,]', '[1 2]', '{"a"}', '{"a":}', '{"a":1,}', '{a:1}',
	"{'a':1}", '[1]x', '1 2', 'nul', 'tru', 'nulll', 'True', 'NULL', '01', '-01', '1.', '.5',
	'-', '+1', '1e', '1e+', '0x10', '0X1F', 'Infinity', '-Infinity', 'NaN', 'nan', 'inf',
	'[Infinity]', '[-inf]', '"\\', '"abc', '"\\u"', '[1,2', '{"a":1', '{"a" 1}', '{1:2}',
	'[true false]', '\0', '[1]\0garbage', '[1,\0 2]', '/* c */ 1', '// c\n1',
}
for i, d in ipairs(docs) do
	dec("dec." .. i, d)
end
local more = {
	'{"a":1,"a":2}', '{"\\u00e9":1}', '["\\ud834\\udd1e"]', '[1e308]', '[2.5e-3]', '[-0.0]',
	'[0.1e1]', '[1E+2]', '"\\u0080"', '"\\u07ff"', '"\\u0800"', '"\\uffff"', '"\\uFFFF"',
	'[ true , false , null ]', '{ "a" : [ ] , "b" : { } }', '{"":""}', '[[],[[]],{}]',
	'"\\"\\\\\\/\\b\\f\\n\\r\\t"', '[1,2,3,4,5,6,7,8,9,10,11,12]', '{"k":[{"k":[{"k":null}]}]}',
	'  "spaces around"  ', '\t\n\r 7 \t\n\r', '[1.0]', '[100000000000000000000]', '[1.7976931348623157e309]',
}
for i, d in ipairs(more) do
	dec("dec.more." .. i, d)
end
local deep = string.rep("[", 1001) .. string.rep("]", 1001)
dec("dec.deep.1001", deep)
dec("dec.deep.1000", string.rep("[", 1000) .. string.rep("]", 1000))
dec("dec.deep.obj", string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001))
print("set.ddepth", S.all(cjson.decode_max_depth(3)))
dec("dec.ddepth.3", "[[[1]]]")
dec("dec.ddepth.4", "[[[[1]]]]")
dec("dec.ddepth.obj", '{"a":{"b":{"c":{}}}}')
cjson.decode_max_depth(1000)
print("set.dinvalid", S.all(cjson.decode_invalid_numbers(false)))
for _, d in ipairs({ "0x10", "Infinity", "-Infinity", "NaN", "[nan]", "01", "1", "-1.5", "+1" }) do
	dec("dec.noinvalid." .. d, d)
end
cjson.decode_invalid_numbers(true)
dec("dec.arg.number", 123)
dec("dec.arg.table", {})
dec("dec.arg.none", nil)
print("dec.arg.two", try(cjson.decode, "1", "2"))
print("enc.arg.two", try(cjson.encode, 1, 2))
print("enc.arg.none", try(cjson.encode))

-- cjson.safe: the same, with nil and the message instead of an error.
print("safe.enc", S.all(safe.encode({ 1, 2 })))
print("safe.enc.err", S.all(safe.encode(function() end)))
print("safe.enc.inf", S.all(safe.encode(math.huge)))
print("safe.dec", S.all(safe.decode('{"a":[1,2]}')))
print("safe.dec.err", S.all(safe.decode('[1,')))
print("safe.dec.err2", S.all(safe.decode('')))
print("safe.dec.deep", S.all(safe.decode(deep)))
print("safe.null", show(safe.null == cjson.null))
print("safe.new", type(safe.new))

-- Instances: each has its own settings.
local a = cjson.new()
local b = cjson.new()
print("new.differs", show(a ~= cjson and a ~= b), type(a.encode))
a.encode_sparse_array(true)
a.encode_number_precision(3)
a.encode_max_depth(2)
a.decode_max_depth(2)
a.encode_invalid_numbers("null")
print("new.a", S.all(a.encode_sparse_array()), S.all(a.encode_number_precision()),
	S.all(a.encode_max_depth()), S.all(a.encode_invalid_numbers()))
print("new.b", S.all(b.encode_sparse_array()), S.all(b.encode_number_precision()),
	S.all(b.encode_max_depth()), S.all(b.encode_invalid_numbers()))
print("new.cjson", S.all(cjson.encode_sparse_array()), S.all(cjson.encode_number_precision()))
enc("new.a.sparse", { [5] = 1 }, a)
enc("new.b.sparse", { [5] = 1 }, b)
enc("new.a.prec", { 1 / 3 }, a)
enc("new.b.prec", { 1 / 3 }, b)
enc("new.a.depth", { { { 1 } } }, a)
enc("new.a.inf", { math.huge, 0 / 0 }, a)
dec("new.a.ddepth", "[[[1]]]", a)
dec("new.b.ddepth", "[[[1]]]", b)
print("new.null", show(a.null == cjson.null))

-- Settings' arguments.
local function set(name, f, ...)
	print(name, try(f, ...))
end
local c = cjson.new()
set("arg.sparse.on", c.encode_sparse_array, "on")
set("arg.sparse.off", c.encode_sparse_array, "off")
set("arg.sparse.bad", c.encode_sparse_array, "maybe")
set("arg.sparse.neg", c.encode_sparse_array, true, -1)
set("arg.sparse.str", c.encode_sparse_array, true, "x")
set("arg.sparse.float", c.encode_sparse_array, true, 2.5)
set("arg.depth.0", c.encode_max_depth, 0)
set("arg.depth.str", c.encode_max_depth, "10")
set("arg.depth.bad", c.encode_max_depth, "x")
set("arg.ddepth.0", c.decode_max_depth, 0)
set("arg.prec.0", c.encode_number_precision, 0)
set("arg.prec.15", c.encode_number_precision, 15)
set("arg.prec.str", c.encode_number_precision, "7")
set("arg.invalid.on", c.encode_invalid_numbers, "on")
set("arg.invalid.off", c.encode_invalid_numbers, "off")
set("arg.invalid.bad", c.encode_invalid_numbers, "nul")
set("arg.invalid.num", c.encode_invalid_numbers, 1)
set("arg.dinvalid.null", c.decode_invalid_numbers, "null")
set("arg.keep", c.encode_keep_buffer, false)
set("arg.keep.bad", c.encode_keep_buffer, 5)
set("arg.extra", c.encode_max_depth, 3, 4)
