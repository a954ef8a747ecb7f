-- Known-answer vectors for cjson: each line printed is "name<TAB>result".
-- vectors.expected holds what lua-cjson 2.1.0.11 (Lua 5.4) printed for
-- this script; tests/vectors.rs runs it against skyhold's cjson and
-- compares line by line. Only deterministic output is printed: objects
-- with more than one string key are shown through `dump`, which sorts.
local cjson = require "cjson"
local safe = require "cjson.safe"

local function dump(v, seen)
	local t = type(v)
	if t == "table" then
		seen = seen or {}
		if seen[v] then return "<cycle>" end
		seen[v] = true
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b)
			local ta, tb = type(a), type(b)
			if ta ~= tb then return ta < tb end
			return a < b
		end)
		local parts = {}
		for _, k in ipairs(keys) do
			parts[#parts + 1] = dump(k) .. "=" .. dump(v[k], seen)
		end
		local mt = getmetatable(v)
		local tag = mt == cjson.array_mt and "A" or ""
		return tag .. "{" .. table.concat(parts, ",") .. "}"
	elseif t == "number" then
		if math.type(v) == "integer" then
			return "i" .. string.format("%d", v)
		end
		if v ~= v then return "fnan" end
		return "f" .. string.format("%.17g", v)
	elseif t == "string" then
		return string.format("%q", v)
	elseif v == cjson.null then
		return "null"
	end
	return tostring(v)
end

local function show(ok, ...)
	local n = select("#", ...)
	local out = { ok and "ok" or "err" }
	for i = 1, n do
		local v = select(i, ...)
		if type(v) == "string" and not ok then
			out[#out + 1] = v
		else
			out[#out + 1] = dump(v)
		end
	end
	return table.concat(out, " ")
end

local n = 0
local function case(name, f, ...)
	n = n + 1
	print(string.format("%03d %s\t%s", n, name, show(pcall(f, ...))))
end

-- Numbers, at the default precision and others.
local numbers = {
	0, -0.0, 1, -1, 0.1, 0.5, 1 / 3, -2 / 3, 1e21, 1e-7, 123456789012345678,
	2 ^ 53, 2 ^ 63, -2 ^ 63, math.maxinteger, math.mininteger, 1e300, 1e-300,
	5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 3.14159265358979,
	100, 1e15, 1e16, 123.456, 0.000123456, 99999999999999.9, 9.99999999999995,
	0.30000000000000004, 1.0, 1e14, 1e13 + 0.5, 2.5, 0.125, 1234567.0,
	-1.5e-10, 4.35, 0.015, 1e22, 12345678901234.5,
}
-- A deterministic spread of doubles.
local seed = 12345
for _ = 1, 150 do
	seed = (seed * 1103515245 + 12345) % 2147483648
	local m = seed / 2147483648
	seed = (seed * 1103515245 + 12345) % 2147483648
	local e = seed % 80 - 40
	numbers[#numbers + 1] = (m - 0.5) * 10.0 ^ e
end
for i, x in ipairs(numbers) do
	case("num" .. i, cjson.encode, x)
end
for _, p in ipairs { 1, 2, 3, 6, 10, 15, 16 } do
	local j = cjson.new()
	j.encode_number_precision(p)
	for i = 1, 60 do
		case("prec" .. p .. "_" .. i, j.encode, numbers[i])
	end
end
case("keys num", cjson.encode, { [1.5] = 1 })
case("keys int", cjson.encode, { [-3] = true })
case("keys big", cjson.encode, { [2 ^ 40] = 1 })
case("keys big2", cjson.encode, { [2 ^ 31] = 1 })
case("keys huge float", cjson.encode, { [1e300] = 1 })
case("keys inf", cjson.encode, { [math.huge] = 1 })

-- Invalid numbers.
for _, mode in ipairs { false, true, "null", "off", "on" } do
	local j = cjson.new()
	case("invalid set " .. tostring(mode), j.encode_invalid_numbers, mode)
	case("invalid nan " .. tostring(mode), j.encode, 0 / 0)
	case("invalid inf " .. tostring(mode), j.encode, math.huge)
	case("invalid -inf " .. tostring(mode), j.encode, -math.huge)
	case("invalid key " .. tostring(mode), j.encode, { [-math.huge] = 1 })
end

-- Strings: every byte, and escapes.
for b = 0, 255 do
	case("byte" .. b, cjson.encode, string.char(b))
end
case("slash", cjson.encode, "a/b//c")
do
	local j = cjson.new()
	j.encode_escape_forward_slash(false)
	case("slash off", j.encode, "a/b//c")
end
case("utf8", cjson.encode, "héllo wörld ✓ 😀")
case("long", cjson.encode, string.rep("ab\"\\\n", 50))

-- Tables.
case("empty", cjson.encode, {})
case("nested empty", cjson.encode, { {}, { {} } })
case("array", cjson.encode, { 1, "two", true, false, cjson.null })
case("holes", cjson.encode, { 1, nil, 3 })
case("sparse 3", cjson.encode, { [3] = "x" })
case("sparse 11", cjson.encode, { [11] = "x" })
case("sparse 10", cjson.encode, { [10] = "x" })
case("sparse 20 of 10", cjson.encode, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, [20] = 1 })
case("sparse 21 of 10", cjson.encode, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, [21] = 1 })
case("one key", cjson.encode, { a = { b = { c = "d" } } })
case("mixed", cjson.encode, { [1] = 1, x = 2 } ~= nil and { [1] = 1 } or nil)
case("bad key", cjson.encode, { [true] = 1 })
case("bad key table", cjson.encode, { [{}] = 1 })
case("function", cjson.encode, print)
case("thread", cjson.encode, coroutine.create(print))
case("in array function", cjson.encode, { 1, print })
do
	local j = cjson.new()
	case("sparse set", j.encode_sparse_array, true, 2, 3)
	case("sparse convert", j.encode, { [5] = 1 })
	case("sparse get", j.encode_sparse_array)
	case("sparse ratio 0", j.encode_sparse_array, false, 0)
	case("sparse never", j.encode, { [1000] = 1 })
	case("sparse bad ratio", j.encode_sparse_array, nil, -1)
	case("sparse bad safe", j.encode_sparse_array, nil, nil, "x")
	case("sparse bad convert", j.encode_sparse_array, {})
	case("sparse too many", j.encode_sparse_array, 1, 2, 3, 4)
end
do
	local j = cjson.new()
	case("empty as array set", j.encode_empty_table_as_object, false)
	case("empty as array", j.encode, { a = {} })
	case("empty as array 2", j.encode, {})
end
case("empty_array", cjson.encode, { cjson.empty_array, cjson.empty_array })
case("empty_array_mt", cjson.encode, setmetatable({}, cjson.empty_array_mt))
case("empty_array_mt keyed", cjson.encode, setmetatable({ a = 1 }, cjson.empty_array_mt))
case("array_mt", cjson.encode, setmetatable({}, cjson.array_mt))
case("array_mt keyed", cjson.encode, setmetatable({ 1, 2, a = 3 }, cjson.array_mt))
case("__len", cjson.encode, setmetatable({}, { __len = function() return 3 end, __index = function(_, k) return k * 2 end }))
case("__len string", cjson.encode, setmetatable({ 7 }, { __len = function() return "1" end }))
case("__len error", cjson.encode, setmetatable({}, { __len = function() error("boom", 0) end }))
case("metatable plain", cjson.encode, setmetatable({ 1, 2 }, {}))
case("metatable __index holes", cjson.encode, setmetatable({ [1] = 1, [3] = 3 }, { __index = function() return "h" end }))
do
	local cyc = {}
	cyc[1] = cyc
	case("cycle", cjson.encode, cyc)
	local j = cjson.new()
	j.encode_max_depth(3)
	case("depth 3 ok", j.encode, { { { 1 } } })
	case("depth 3 over", j.encode, { { { { 1 } } } })
	case("depth 3 obj over", j.encode, { a = { b = { c = { d = 1 } } } })
end
do
	local j = cjson.new()
	case("skip set", j.encode_skip_unsupported_value_types, true)
	case("skip top", j.encode, print)
	case("skip first", j.encode, { print, 1, 2 })
	case("skip mid", j.encode, { 1, print, 2 })
	case("skip last", j.encode, { 1, 2, print })
	case("skip obj", j.encode, { a = print })
	case("skip all", j.encode, { print, print })
end
do
	local j = cjson.new()
	case("indent set", j.encode_indent, "\t")
	case("indent array", j.encode, { 1, { 2, { 3 } }, {} })
	case("indent obj", j.encode, { a = { b = { 1, 2 } } })
	case("indent get", j.encode_indent)
	case("indent bad", j.encode_indent, {})
	case("indent number", j.encode_indent, 12)
	case("indent after number", j.encode, { 1 })
end
case("top nil", cjson.encode, nil)
case("no args", cjson.encode)
case("two args", cjson.encode, 1, 2)

-- Decoding.
local docs = {
	'"test string"', '[ 0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10 ]', "null", "true", "false",
	'{ "1": "one", "3": "three" }', '[ "one", null, "three" ]', "-0", "-0.0", "0", "1E2",
	"99999999999999999999", "-99999999999999999999", "9223372036854775807",
	"9223372036854775808", "-9223372036854775808", "0x10", "0X10", "0x6.ffp1", "0x1p-1074",
	"[ 0123, 00.33 ]", "+5", "[ +Inf, Inf, -Inf ]", "[ +Infinity, Infinity, -Infinity ]",
	"[ +NaN, NaN, -NaN ]", "nan(123)", "1.e5", "-.5", ".5", "1e", "1e+", "1x", "12x",
	"Infrared", "Noodle", "infinit", "nul", "tru", "[1,]", "[,]", "{,}", '{"a" 1}',
	'{"a":1 "b"}', "{1:2}", "", " ", "Oops", "[", "{", '{"a":', '{"a"', '"abc',
	'"\\q"', '"\\u0f6"', '"\\uDC00\\uD800"', '"\\uDB00\\uDB00"', '"\\uDB00"', '"\\uDB00\\uD"',
	'"\\ud83d\\ude00"', '"\\u00e9\\u0041\\u0000z"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"', '"\\uFFFF"',
	'"a\0b"', "1\0x", "\0\"\0\"", '"\0\0\0', "[1]\0", "[1 ]\0garbage", "  [ 1 , 2 ]  ",
	"[[[[[ \"nested\" ]]]]]", '{"a":{"b":{"c":{}}}}', "[1e400, -1e400, 1e-400]",
	"123456789012345678901234567890", "0.1e-2", "2.2250738585072011e-308",
	"4.9406564584124654e-324", "1.7976931348623159e308", "[-]", "[--1]", "[-a]",
	"[1.5e+308, 0.00000000001]", '{"a":[1,{"b":null}]}', "[true,false,null]",
	"[ttrue]", "/* c */ 1", "// c\n1", "\t\r\n 7 \t\r\n", "\v1", "\f1", "1 2", "[1]]",
	"{}}", '{"":""}', '"\127"',
}
for i, d in ipairs(docs) do
	case("dec" .. i, cjson.decode, d)
end
do
	local j = cjson.new()
	case("strict set", j.decode_invalid_numbers, false)
	for i, d in ipairs(docs) do
		case("strict" .. i, j.decode, d)
	end
end
do
	local j = cjson.new()
	case("comment set", j.decode_allow_comment, true)
	for _, d in ipairs { "/* c */ 1", "// c\n1", "[1, /* x */ 2]", "{}/*Unclosed", "{\"a\":1/*x*/0}", "1 //", "1 /", "/", "/*/", "[1 /**/ ]" } do
		case("comment " .. d, j.decode, d)
	end
end
do
	local j = cjson.new()
	case("depth set", j.decode_max_depth, 3)
	case("depth ok", j.decode, "[[[1]]]")
	case("depth over", j.decode, "[[[[1]]]]")
	case("depth obj over", j.decode, '{"a":{"b":{"c":{"d":1}}}}')
	case("depth mixed over", j.decode, '[{"a":[{}]}]')
	case("depth deep", cjson.decode, string.rep("[", 1100) .. string.rep("]", 1100))
	case("depth deep obj", cjson.decode, string.rep('{"a":', 1100) .. "1" .. string.rep("}", 1100))
end
do
	local j = cjson.new()
	case("array_mt set", j.decode_array_with_array_mt, true)
	case("array_mt dec", j.decode, '[[],{"a":[1]}]')
	case("array_mt reenc", function() return j.encode(j.decode("[]")) end)
end
case("dec number arg", cjson.decode, 123)
case("dec float arg", cjson.decode, 1.5)
case("dec table arg", cjson.decode, {})
case("dec no arg", cjson.decode)
case("dec nil arg", cjson.decode, nil)
case("dec two args", cjson.decode, "1", 2)

-- Settings functions.
case("prec 0", cjson.encode_number_precision, 0)
case("prec 17", cjson.encode_number_precision, 17)
case("prec str", cjson.encode_number_precision, "5")
case("prec five", cjson.encode_number_precision, "five")
case("prec float", cjson.encode_number_precision, 2.5)
case("prec back", cjson.encode_number_precision, 14)
case("depth huge", cjson.encode_max_depth, 2 ^ 32 + 5)
case("depth back", cjson.encode_max_depth, 1000)
case("keep get", cjson.encode_keep_buffer)
case("keep bad", cjson.encode_keep_buffer, "x")
case("keep on", cjson.encode_keep_buffer, "on")
case("keep too many", cjson.encode_keep_buffer, nil, true)
case("invalid -2", cjson.encode_invalid_numbers, -2)
case("invalid table", cjson.encode_invalid_numbers, {})
case("invalid get", cjson.encode_invalid_numbers)
case("dec invalid get", cjson.decode_invalid_numbers)
case("dmax 0", cjson.decode_max_depth, "0")
case("dmax get", cjson.decode_max_depth)
case("empty obj get", cjson.encode_empty_table_as_object)
case("empty obj str", cjson.encode_empty_table_as_object, "on")
case("slash get", cjson.encode_escape_forward_slash)
case("skip get", cjson.encode_skip_unsupported_value_types)
case("amt get", cjson.decode_array_with_array_mt)
case("comment get", cjson.decode_allow_comment)

-- cjson.safe.
case("safe enc", safe.encode, { 1 })
case("safe enc err", safe.encode, print)
case("safe enc args", safe.encode, 1, 2)
case("safe dec err", safe.decode, "Oops")
case("safe dec table", safe.decode, {})
case("safe dec args", safe.decode)
case("safe new dec err", function(...) return safe.new().decode(...) end, "[1,")
case("safe __len error", safe.encode, setmetatable({}, { __len = function() error("boom", 0) end }))
case("safe sparse", safe.encode, { [100] = 1 })
case("safe depth", safe.decode, string.rep("[", 1001))
case("names", function() return cjson._NAME, cjson._VERSION, safe._NAME, cjson.null, safe.null == cjson.null end)
case("shared mts", function() return safe.array_mt == cjson.array_mt, cjson.new().empty_array_mt == cjson.empty_array_mt, safe.empty_array == cjson.empty_array end)

-- Errors raised straight from Lua code carry the caller's position.
print("pos1\t" .. select(2, pcall(function() local x = cjson.decode("x") return x end)))
print("pos2\t" .. select(2, pcall(function() local x = cjson.encode_max_depth("x") return x end)))
print("pos3\t" .. select(2, pcall(function() local c = cjson; local x = c.encode(print) return x end)))
print("pos4\t" .. select(2, pcall(function() local x = cjson:encode(1) return x end)))
print("pos5\t" .. select(2, pcall(function() local x = cjson.encode(setmetatable({}, { __len = function() error("inner") end })) return x end)))

-- Round trips through both directions.
local rt = {
	{ 1, 2.5, "x", { true, false }, cjson.null }, { a = { b = { c = { 1, 2, 3 } } } },
	{ [1] = "a", [2] = "b" }, "\0\1\2\127\255", 1e-10, math.pi, -0.0,
}
for i, v in ipairs(rt) do
	case("rt" .. i, function() return cjson.decode(cjson.encode(v)) end)
end
print("done\t" .. n)
