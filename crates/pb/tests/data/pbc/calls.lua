-- skyhold's test of protobuf.c (pbc's C module): every function called the
-- way pbc's protobuf.lua calls it (a shared environment, writers chosen by
-- `_env_type`, `_decode` with a callback that defers sub-messages, defaults
-- through `_rmessage_*` on an empty message, patterns with "@" formats).
-- The globals A_PB, B_PB, C_PB, ALL_BIN and C_BIN hold the files of this
-- directory. What it prints was first printed by pbc's own C module.
local c = require "protobuf.c"

local P = c._env_new()
local GC = c._gc(P)

local function hex(s)
	return (s:gsub(".", function(ch) return string.format("%02x", ch:byte()) end))
end

local function show(v)
	if type(v) == "string" then return string.format("%q", v) end
	return tostring(v)
end

local function sorted_keys(t)
	local keys = {}
	for k in pairs(t) do keys[#keys + 1] = k end
	table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
	return keys
end

-- A table as text, keys sorted, so the output does not depend on `next`.
local function dump(v)
	if type(v) ~= "table" then return show(v) end
	local parts = {}
	for _, k in ipairs(sorted_keys(v)) do
		parts[#parts + 1] = tostring(k) .. "=" .. dump(v[k])
	end
	return "{" .. table.concat(parts, ",") .. "}"
end

---------------- register ----------------
print("register b first", pcall(c._env_register, P, B_PB), c._last_error(P))
c._env_register(P, A_PB)
c._env_register(P, B_PB)
c._env_register(P, C_PB)
c._env_register(P, A_PB) -- again: already there, no error
print("register junk", pcall(c._env_register, P, "\255"), c._last_error(P))
print("register empty", pcall(c._env_register, P, ""), c._last_error(P))
print("last error cleared", show(c._last_error(P)))

---------------- types ----------------
print("type All", c._env_type(P, "pbct.All"), c._env_type(P, "pbct.Nope"))
for _, k in ipairs { "d", "f", "i64", "u64", "i32", "fx64", "fx32", "b", "s", "by", "u32", "e",
	"sf32", "sf64", "s32", "s64", "p", "ri", "rp", "rm", "rs", "re", "rd", "rs64", "rb",
	"inner", "pbct.ext_num", "pbct.b.Holder.note", "zz" } do
	print("field", k, c._env_type(P, "pbct.All", k))
end
print("enum ids", c._env_enum_id(P, "pbct.Color", "BLUE"), c._env_enum_id(P, "pbct.All.Inner.Kind", "K0"),
	select("#", c._env_enum_id(P, "pbct.Color", "NEG")), select("#", c._env_enum_id(P, "pbct.Color", "X")))
print("descriptor types", c._env_type(P, "google.protobuf.FileDescriptorSet"),
	c._env_type(P, "google.protobuf.FieldDescriptorProto", "label"))

---------------- decode ----------------
local lazy_mt = {}
local function deferred(typename, buffer)
	return setmetatable({ typename, buffer }, lazy_mt)
end
local function decode(typename, buffer)
	local t = {}
	local ok = c._decode(P, deferred, t, typename, buffer)
	return ok and t or nil, c._last_error(P)
end
-- Sub-messages expanded for printing (protobuf.lua expands them on access).
local function expand(v)
	if type(v) ~= "table" then return v end
	if getmetatable(v) == lazy_mt then
		local t = assert(decode(v[1], v[2]), v[1])
		return expand(t)
	end
	for k, x in pairs(v) do v[k] = expand(x) end
	return v
end

print("protoc bytes", dump(expand(decode("pbct.All", ALL_BIN))))
print("proto3 map", dump(expand(decode("pbct3.Msg", "\34\5\10\1k\16\9"))))
print("empty", dump(decode("pbct.All", "")))
print("no type", decode("pbct.Nope", ""))
print("truncated", decode("pbct.All", "\10\5ab"))
print("group", decode("pbct.All", "\11\12"))
print("bad string", decode("pbct.All", "\72\1"))
print("unknown enum", dump(decode("pbct.All", "\112\9\200\1\9\200\1\1")))
print("unknown fields", dump(decode("pbct.All", "\248\6\1\250\6\1x\253\6\1\2\3\4\40\5")))
print("last wins", dump(decode("pbct.All", "\40\1\40\2")))
print("descriptor", dump(expand(decode("google.protobuf.FileDescriptorSet", B_PB))))

---------------- encode ----------------
local function write(w, msgtype, fields)
	for _, kv in ipairs(fields) do
		local k, v = kv[1], kv[2]
		local t, sub = c._env_type(P, msgtype, k)
		local base, rep = t & 127, t & 128 ~= 0
		local values = rep and v or { v }
		for _, x in ipairs(values) do
			if base == 6 then
				write(c._wmessage_message(w, k), sub, x)
			elseif base == 2 then
				c._wmessage_real(w, k, x)
			elseif base == 3 then
				c._wmessage_int(w, k, x and 1 or 0)
			elseif base == 4 or base == 5 or base == 9 then
				c._wmessage_string(w, k, x)
			else
				c._wmessage_int(w, k, x)
			end
		end
	end
end
local function encode(msgtype, fields)
	local w = assert(c._wmessage_new(P, msgtype))
	write(w, msgtype, fields)
	local s = c._wmessage_buffer_string(w)
	c._wmessage_delete(w)
	return s
end

local all = encode("pbct.All", {
	{ "req", 0 }, { "d", 1.25 }, { "f", -2.5 }, { "i64", -9000000000 }, { "u64", 7 },
	{ "i32", -7 }, { "fx64", 12345678901234 }, { "fx32", 4000000000 }, { "b", true },
	{ "s", "h\0i" }, { "by", "\0\1\255" }, { "u32", 4000000000 }, { "e", "BLUE" },
	{ "sf32", -3 }, { "sf64", -4 }, { "s32", -100 }, { "s64", -200000000000 },
	{ "p", { { "x", 1 }, { "y", -2 } } }, { "ri", { 1, -1 } }, { "rp", { 5, 300, -1 } },
	{ "rm", { { { "x", 3 } }, { { "y", 4 } } } }, { "rs", { "a", "" } }, { "re", { "RED", "NEG" } },
	{ "rd", { 0.5 } }, { "rs64", { -1, 1 } }, { "rb", { true, false } },
	{ "inner", { { "name", "in" }, { "kind", "K1" } } }, { "pbct.ext_num", 77 },
	{ "pbct.b.Holder.note", "n" },
})
print("encode all", hex(all))
print("round trip", dump(expand(decode("pbct.All", all))))
print("defaults skipped", hex(encode("pbct.All", {
	{ "dint", 42 }, { "dstr", "hi" }, { "dcol", "GREEN" }, { "dbool", true }, { "ddbl", 1.5 },
	{ "du64", 7 }, { "dneg", -5 }, { "i32", 0 }, { "s", "" }, { "by", "" }, { "e", "RED" },
	{ "req", 0 },
})))
print("defaults differ", hex(encode("pbct.All", { { "dint", 0 }, { "dstr", "" }, { "dcol", "RED" }, { "dbool", false } })))
print("proto3", hex(encode("pbct3.Msg", { { "n", 0 }, { "s", "" }, { "nums", { 1, 2 } }, { "m", { { { "key", "k" }, { "value", 9 } } } } })))
print("int from float", hex(encode("pbct.All", { { "i32", 2.9 }, { "i64", -2.9 } })))
print("number as string", hex(encode("pbct.All", { { "s", 12 } })))
print("tree", hex(encode("pbct.Tree", { { "v", 1 }, { "kids", { { { "v", 2 }, { "kids", { { { "v", 3 } } } } } } } })))
do
	-- the C module gives a pointer and a size, skyhold a string and a size
	local w = c._wmessage_new(P, "pbct.All")
	c._wmessage_int(w, "i32", 1)
	local _, n = c._wmessage_buffer(w)
	print("buffer size", n)
	print("unknown key", pcall(c._wmessage_int, w, "zz", 1), c._last_error(P))
	print("bad enum", pcall(c._wmessage_string, w, "e", "PURPLE"), c._last_error(P))
	print("bad packed enum", pcall(c._wmessage_string, w, "re", "PURPLE"))
	print("no sub-message", c._wmessage_message(w, "zz"), c._last_error(P))
	print("real needs a number", pcall(c._wmessage_real, w, "d", {}))
	print("no such type", c._wmessage_new(P, "pbct.Nope"))
end

---------------- defaults (rmessage) ----------------
local r = c._rmessage_new(P, "pbct.All", "")
c._add_rmessage(GC, r)
print("default ints", c._rmessage_int(r, "dint", 0), c._rmessage_int(r, "du64", 0), c._rmessage_int(r, "dneg", 0),
	c._rmessage_int(r, "dbool", 0), c._rmessage_int(r, "dcol", 0), c._rmessage_int(r, "i32", 0))
print("default reals", c._rmessage_real(r, "ddbl", 0), c._rmessage_real(r, "d", 0))
print("default strings", show(c._rmessage_string(r, "dstr", 0)), show(c._rmessage_string(r, "dcol", 0)),
	show(c._rmessage_string(r, "e", 0)), show(c._rmessage_string(r, "s", 0)), show(c._rmessage_string(r, "by", 0)))
print("default sizes", c._rmessage_size(r, "ri"), c._rmessage_size(r, "p"), c._rmessage_size(r, "zz"))
local sub = c._rmessage_message(r, "p", 0)
print("default sub-message", c._rmessage_int(sub, "x", 0), c._rmessage_size(sub, "x"))
print("holder default", c._rmessage_string(c._rmessage_new(P, "pbct.b.Holder", ""), "color", 0))
print("rmessage of no type", c._rmessage_new(P, "pbct.Nope", ""), c._last_error(P))
print("rmessage of junk", c._rmessage_new(P, "pbct.All", "\255"), c._last_error(P))

---------------- rmessage over bytes ----------------
local m = c._rmessage_new(P, "pbct.All", ALL_BIN)
print("read", c._rmessage_real(m, "d", 0), c._rmessage_real(m, "f", 0), c._rmessage_int(m, "i64", 0),
	c._rmessage_int(m, "fx32", 0), c._rmessage_int(m, "s64", 0), c._rmessage_int(m, "b", 0),
	show(c._rmessage_string(m, "s", 0)), c._rmessage_string(m, "e", 0), c._rmessage_int(m, "e", 0))
print("read repeated", c._rmessage_size(m, "rp"), c._rmessage_int(m, "rp", 0), c._rmessage_int(m, "rp", 1),
	c._rmessage_size(m, "rs"), c._rmessage_string(m, "rs", 0), c._rmessage_size(m, "rd"), c._rmessage_real(m, "rd", 1),
	c._rmessage_string(m, "re", 1), c._rmessage_int(m, "rs64", 1))
local rm = c._rmessage_message(m, "rm", 1)
print("read nested", c._rmessage_int(rm, "y", 0), c._rmessage_int(c._rmessage_message(m, "p", 0), "y", 0),
	c._rmessage_string(c._rmessage_message(m, "inner", 0), "name", 0),
	c._rmessage_int(m, "pbct.ext_num", 0), c._rmessage_string(m, "pbct.b.Holder.note", 0))
print("no sub-message key", c._rmessage_message(m, "zz", 0), c._last_error(P))

---------------- patterns ----------------
print("pattern sizes", c._pattern_size("irbdsm"), c._pattern_size("IRBDSM"))
local function pattern(spec)
	local iter = spec:gmatch("[^ ]+")
	local msg = iter()
	local cpat, letters = {}, {}
	local map = { [1] = { "%d", "i" }, [2] = { "%F", "r" }, [3] = { "%d", "b" }, [4] = { "%d", "i" },
		[5] = { "%s", "s" }, [6] = { "%s", "m" }, [7] = { "%D", "d" }, [8] = { "%d", "i" },
		[9] = { "%s", "s" }, [10] = { "%D", "d" }, [11] = { "%D", "d" } }
	for field in iter do
		local t = c._env_type(P, msg, field)
		local e = assert(map[t & 127], field)
		cpat[#cpat + 1] = field .. " " .. (t & 128 ~= 0 and "%a" or e[1])
		letters[#letters + 1] = t & 128 ~= 0 and e[2]:upper() or e[2]
	end
	local obj = c._pattern_new(P, msg, "@" .. table.concat(cpat, " "))
	c._add_pattern(GC, obj)
	local format = table.concat(letters)
	return obj, format, c._pattern_size(format)
end
local pp, pf, ps = pattern("pbct.Point x y")
local pbuf = c._pattern_pack(pp, pf, ps, 3, -4)
print("pack point", hex(pbuf), c._pattern_unpack(pp, pf, ps, pbuf))
local ap, af, as = pattern("pbct.All req s ri p d b e rm rd u64 dint dstr")
local abuf = c._pattern_pack(ap, af, as, 9, "str", { 1, 2, -3 }, pbuf, 0.5, true, 3, { pbuf, pbuf }, { 1.5, 2 }, 5, 42, "hi")
print("pack all", af, hex(abuf))
-- A message field unpacks as { bytes, size }: a pointer in C, a string here.
local function slices(v)
	if type(v) == "table" then
		if type(v[2]) == "number" and type(v[1]) ~= "number" and v[3] == nil then
			return "slice:" .. v[2]
		end
		for k, x in pairs(v) do v[k] = slices(x) end
	end
	return v
end
local vals = table.pack(c._pattern_unpack(ap, af, as, abuf))
print("unpack all", vals.n, dump(slices(vals)))
print("unpack defaults", dump(slices(table.pack(c._pattern_unpack(ap, af, as, "")))))
print("unpack protoc bytes", dump(slices(table.pack(c._pattern_unpack(ap, af, as, ALL_BIN)))))
local sub = select(4, c._pattern_unpack(ap, af, as, abuf))
print("unpack the slice", c._pattern_unpack(pp, pf, ps, sub[1], sub[2]))
print("unpack junk", select("#", c._pattern_unpack(ap, af, as, "\255")), c._last_error(P))
print("pattern bad field", pcall(c._pattern_new, P, "pbct.Point", "@x %d z %d"), c._last_error(P))
print("pattern bad ctype", pcall(c._pattern_new, P, "pbct.Point", "@x %q"), c._last_error(P))
print("pattern ctype check", pcall(c._pattern_new, P, "pbct.All", "@s %d"), c._last_error(P))
print("pattern no type", pcall(c._pattern_new, P, "pbct.Nope", "@x %d"), c._last_error(P))
print("pack needs a table", pcall(c._pattern_pack, ap, af, as, 9, "str", 5))

---------------- argument errors ----------------
print("not userdata", pcall(c._env_register, nil, A_PB))
print("register needs a string", pcall(c._env_register, P, {}))
print("decode needs a function", pcall(c._decode, P, nil, {}, "pbct.All", ""))
print("decode needs a table", pcall(c._decode, P, deferred, nil, "pbct.All", ""))
print("PASS")
