-- Known-answer vectors: run by lua-protobuf (pb.c) to make
-- vectors.expected, and by skyhold-pb in tests/known_answers.rs.
-- DESC2/DESC3 are the descriptor sets p2.pb/p3.pb (protoc -o).
local pb = require "pb"

local function dump(v, seen)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do if k ~= "__index" then keys[#keys+1] = k end end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts+1] = tostring(k) .. "=" .. dump(v[k]) end
    local mt = getmetatable(v)
    return "{" .. table.concat(parts, ",") .. "}" .. (mt and "+mt" or "")
  elseif t == "string" then return string.format("%q", v)
  elseif math.type and math.type(v) == "float" then return string.format("%.17g", v)
  else return tostring(v) end
end

local function out(...) local t = {} for i = 1, select("#", ...) do t[#t+1] = dump((select(i, ...))) end print(table.concat(t, " ")) end

assert(pb.load(DESC2))
assert(pb.load(DESC3))

pb.option "encode_order"
local function rt(name, t)
  local b = pb.encode(name, t)
  print(name, pb.tohex(b))
  out(pb.decode(name, b))
end

rt("p2.All", { d = 1.25, f = 0.5, i64 = -5, u64 = 12345678901, i32 = -1, f64 = 99, f32 = 7, b = true,
  s = "hello", by = "\0\1\2", u32 = 4294967295, e = "BLUE", sf32 = -2, sf64 = -3, s32 = -64, s64 = 63 })
rt("p2.All", { inner = { a = 150, s = "x" }, ri = {1, 2, 300}, rp = {1, 2, 300}, rm = {{a=1},{a=2}}, rs = {"a", "", "c"}, re = {"RED", 3, "GREEN"} })
rt("p2.All", { oa = 5 })
rt("p2.All", { ob = "str" })
rt("p2.All", {})
rt("p2.All", { e = 2, i32 = 0, s = "", b = false, rp = {} })
rt("p3.M", { a = 0, s = "", k = "ZERO", packed = {}, d = 0.0, flag = false })
rt("p3.M", { a = 1, s = "s", k = "TWO", packed = {1,2,3,-1}, strs = {"x","y"}, sub = {x = 3, xs = {4,5}}, raw = "\255", d = -0.0, z = -1, flag = true, u = 3, fx = 8 })
rt("p3.M", { m = { one = 1 }, ms = { [5] = { x = 1 } } })
rt("p3.M", { oi = 0 })
rt("p3.M", { osub = {} })
rt("p3.M", { subs = { {}, {x=1} } })
rt("p3.M", { sub = {} })
rt("p3.M", { k = 7 })

-- decode details
-- messages encoded by protoc (protoc --encode)
out(pb.decode("p3.M", pb.fromhex("089601120268691802220d01feffffffffffffffff01ac0232050a017810074206080512020102620208097005")))
out(pb.decode("p2.All", pb.fromhex("09000000000000e03f18f9ffffffffffffffff0120ffffffffffffffffff017003900111a201050801120171a80101a80102b201020304ba01020805ca020177")))
out(pb.decode("p3.M", "\8\1\8\2"))
out(pb.decode("p3.M", "\34\3\1\2\3\32\4"))
out(pb.decode("p3.M", "\58\2\8\7"))
out(pb.decode("p3.M", "\50\3\16\5\99"))
out(pb.decode("p3.M", "\24\9"))
out(pb.decode("p2.All", "\200\1\5\211\2\8\1\212\2\40\1"))
out(pcall(pb.decode, "p3.M", "\18\10ab"))
out(pcall(pb.decode, "p3.M", "\18"))
out(pcall(pb.decode, "p3.M", "\13\1\2"))
out(pcall(pb.decode, "p3.M", "\8"))
out(pcall(pb.decode, "p3.M", "\66\255\255\255\255\255\255\255\255\255\1"))
out(pcall(pb.decode, "p2.All", "\9\1\2"))
out(pcall(pb.decode, "p2.All", "\21\1"))
out(pcall(pb.encode, "p2.All", { i32 = "x" }))
out(pcall(pb.encode, "p2.All", { e = "PURPLE" }))
out(pcall(pb.encode, "p2.All", { e = {} }))
out(pcall(pb.encode, "p2.All", { inner = 1 }))
out(pcall(pb.encode, "p2.Nope", {}))
out(pcall(pb.encode, "p2.All", { s = 1 }))
out(pcall(pb.decode, "p2.Nope", ""))

-- info
out(pb.type "p2.All")
out(pb.type ".p3.M.MEntry")
out(pb.field("p2.All", "dint"))
out(pb.field("p2.All", 40))
out(pb.field("p3.M", "packed"))
out(pb.enum("p2.Color", "BLUE"), pb.enum("p2.Color", 2))
local names = {}
for name, number, ty in pb.fields "p2.All" do names[#names+1] = name .. ":" .. number .. ":" .. ty end
print(table.concat(names, " "))
local names = {}
for name, number, ty, def, label in pb.fields "p3.M" do names[#names+1] = name .. ":" .. label end
print(table.concat(names, " "))
out(pb.defaults "p2.All")
out(pb.defaults "p3.M")
out(pb.typefmt "int32", pb.typefmt "v", pb.typefmt "p2.All", pb.typefmt "bytes", pb.typefmt "varint", pb.typefmt "zzz")

-- options
pb.option "encode_order"
print(pb.tohex(pb.encode("p2.All", { s32 = 1, i32 = 2, d = 3, s = "x", rp = {1}, inner = {a = 1} })))
pb.option "encode_order"
pb.option "int64_as_string"
out(pb.decode("p2.All", pb.encode("p2.All", { i64 = -5000000000, u64 = "#18446744073709551615", i32 = 5, s64 = 5000000000 })))
pb.option "int64_as_hexstring"
out(pb.decode("p2.All", pb.encode("p2.All", { i64 = -5000000000, u64 = "#18446744073709551615" })))
pb.option "int64_as_number"
out(pb.decode("p2.All", pb.encode("p2.All", { u64 = "#18446744073709551615" })))
pb.option "enum_as_value"
out(pb.decode("p2.All", pb.encode("p2.All", { e = "BLUE", re = {"RED"} })))
out(pb.decode("p3.M", ""))
pb.option "enum_as_name"
pb.option "use_default_values"
out(pb.decode("p2.All", ""))
pb.option "use_default_metatable"
local t = pb.decode("p2.All", "")
out(t, t.dint, t.dstr, t.dcol)
pb.option "no_default_values"
out(pb.decode("p3.M", ""))
pb.option "decode_default_array"
out(pb.decode("p3.M", ""))
out(pb.decode("p2.All", ""))
pb.option "decode_default_message"
out(pb.decode("p2.All", ""))
pb.option "no_decode_default_array"
pb.option "no_decode_default_message"
pb.option "auto_default_values"
pb.option "encode_default_values"
print(pb.tohex(pb.encode("p3.M", { a = 0, s = "", packed = {}, k = 0 })))
pb.option "no_encode_default_values"

-- hooks
pb.option "enable_hooks"
pb.hook("p2.Inner", function(t) t.hooked = true; return t end)
pb.hook("p2.Color", function(v) return "C:" .. tostring(v) end)
out(pb.decode("p2.All", pb.encode("p2.All", { inner = { a = 1 }, e = 1 })))
pb.option "disable_hooks"
pb.option "enable_enchooks"
pb.encode_hook("p2.Inner", function(t) return { a = t.a * 2 } end)
print(pb.tohex(pb.encode("p2.All", { inner = { a = 2 } })))
pb.option "disable_enchooks"

-- pack/unpack
print(pb.tohex(pb.pack("p2.Inner", 5, "abc")))
out(pb.unpack("p2.Inner", pb.pack("p2.Inner", 5, "abc")))
out(pb.unpack("p3.Sub", "\8\1\16\2\16\3"))

-- clear
pb.clear("p2.All", "s")
out(pb.field("p2.All", "s"))
pb.clear("p2.Inner")
out(pb.type "p2.Inner")
out(pb.decode("p2.All", "\162\1\2\8\1\74\1\65"))

-- slice/buffer/conv
local slice, buffer, conv = require "pb.slice", require "pb.buffer", require "pb.conv"
local s = slice.new("\8\150\1\18\3abc\29\1\2\3\4")
out(s:unpack("vvvsvd@"))
out(s:level(), #s)
out(tostring(s):match("^pb%.Slice: "))
s = slice.new("\10\4\8\1\16\2rest")
s:unpack("v") s:enter()
out(s:level(), s:unpack("vvvv"), s:level(1), s:level(2))
out(select(2, s:leave()))
out(s:unpack("c", 4))
out(conv.encode_int32(-1), conv.encode_sint32(-2), conv.decode_sint32(3), conv.encode_sint64(-1), conv.encode_float(1.5), conv.decode_float(0x3fc00000), conv.encode_double(0.5), conv.decode_double(conv.encode_double(0.25)))
local b = buffer.new()
b:pack("v(vs)#", 1, 2, "xy", 0)
out(b:tohex(), b:result(2, 3), #b, pb.fromhex("0a 0B zz 1"))
out(buffer.pack("fFiIjJuUxXyYb", 1.5, 2.5, -1, -2, -3, -4, 5, 6, 7, 8, -9, -10, true))
out(pb.tohex(buffer.pack("fFiIjJuUxXyYb", 1.5, 2.5, -1, -2, -3, -4, 5, 6, 7, 8, -9, -10, true)))
out(pcall(buffer.pack, "i", "foo"))
out(pcall(slice.unpack, "\128", "v"))
out(pb.load("\10\2\8"))
out(pb.load("garbage\255"))
local ok, e = pcall(function() pb.decode("p3.M", "\18\10ab") end) print(e)
local ok, e = pcall(function() local r = buffer.pack("i", "foo") return r end) print(e)
local ok, e = pcall(function() local b = buffer.new() b:pack("i", "foo") end) print(e)
pb.option "enable_hooks"
pb.hook("p3.Sub", function(t) error("hook says no") end)
local ok, e = pcall(function() pb.decode("p3.M", "\66\0") end) print(e)
local ok, e = pcall(function() pb.decode("p3.M", "\66\0", 1) end) print(e)
local ok, e = pcall(function() pb.option "nope" end) print(e)
local ok, e = pcall(function() pb.hook("p3.Sub", 1) end) print(e)
local ok, e = pcall(function() pb.defaults("p3.Nope") end) print(e)
