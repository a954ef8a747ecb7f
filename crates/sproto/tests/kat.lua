-- Known-answer cases for sproto: run under skynet's C sproto (to make
-- kat.expected) and under skyhold's (tests/kat.rs compares). Prints one
-- line per case: a name and what came out (hex of bytes, or a table shown
-- with sorted keys, or an error message).
local sproto = require "sproto"
local parser = require "sprotoparser"
local core = require "sproto.core"

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function show(v)
	if type(v) == "table" then
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b)
			if type(a) == type(b) then return a < b end
			return type(a) < type(b)
		end)
		local out = {}
		for _, k in ipairs(keys) do
			out[#out + 1] = tostring(k) .. "=" .. show(v[k])
		end
		return "{" .. table.concat(out, ",") .. "}"
	elseif type(v) == "string" then
		return string.format("%q", v)
	elseif math.type(v) == "float" then
		return string.format("%.17g", v)
	end
	return tostring(v)
end

local function out(name, v)
	print(name .. " " .. v)
end

local function try(name, f, ...)
	local ok, r = pcall(f, ...)
	if ok then
		out(name, r)
	else
		out(name, "ERR " .. tostring(r):gsub("^.-:%d+: ", ""))
	end
end

-- The schemas of skynet's examples/proto.lua.
local c2s_text = [[
.package {
	type 0 : integer
	session 1 : integer
}

handshake 1 {
	response {
		msg 0  : string
	}
}

get 2 {
	request {
		what 0 : string
	}
	response {
		result 0 : string
	}
}

set 3 {
	request {
		what 0 : string
		value 1 : string
	}
}

quit 4 {}

]]
local s2c_text = [[
.package {
	type 0 : integer
	session 1 : integer
}

heartbeat 1 {}
]]

local big_text = [[
# The README's types, and edge cases.
.Person {
	name 0 : string
	age 1 : integer
	marital 2 : boolean
	children 3 : *Person
}

.Data {
	numbers 0 : *integer
	bools 1 : *boolean
	number 2 : integer
	bignumber 3 : integer
	double 4 : double
	doubles 5 : *double
	fpn 6 : integer(2)
	fpns 7 : *integer(3)
	blob 8 : binary
	strings 10 : *string
	far 300 : integer
}

.AddressBook {
	.Phone {
		number 0 : string
		type 1 : integer
	}
	.Entry {
		id 0 : integer
		name 1 : string
		phone 2 : *Phone
	}
	person 0 : *Entry(id)
	byname 1 : *Entry(name)
	pairs 2 : *KV()
	owner 3 : Entry
}

.KV {
	key 0 : string
	value 1 : integer
}

.Empty {}

ping 7 {
	request Person
	response nil
}
pong 9 { response Data }
call 12 {
	request { x 0 : integer y 1 : *integer }
	response { ok 0 : boolean }
}
]]

local c2s_bin = parser.parse(c2s_text)
local s2c_bin = parser.parse(s2c_text)
local big_bin = parser.parse(big_text, "big")
out("bin.c2s", hex(c2s_bin))
out("bin.s2c", hex(s2c_bin))
out("bin.big", hex(big_bin))

local sp = sproto.new(big_bin)

local function enc(name, typename, v)
	try("enc." .. name, function()
		local b = sp:encode(typename, v)
		return hex(b) .. " packed " .. hex(sproto.pack(b))
	end)
end

enc("alice", "Person", { name = "Alice", age = 13, marital = false })
enc("bob", "Person", {
	name = "Bob", age = 40,
	children = { { name = "Alice", age = 13 }, { name = "Carol", age = 5 } },
})
enc("numbers", "Data", { numbers = { 1, 2, 3, 4, 5 } })
enc("numbers64", "Data", { numbers = { (1 << 32) + 1, (1 << 32) + 2, (1 << 32) + 3 } })
enc("mixed", "Data", { numbers = { 1, -1, 0x7fffffff, -0x80000000, 0x80000000, -2 } })
enc("bools", "Data", { bools = { false, true, false } })
enc("ints", "Data", { number = 100000, bignumber = -10000000000 })
enc("edges", "Data", { number = 0x7ffe, bignumber = 0x7fff })
enc("neg", "Data", { number = -1, bignumber = math.mininteger })
enc("max", "Data", { number = math.maxinteger, far = 1 })
enc("double", "Data", { double = 0.01171875, doubles = { 0.01171875, 23, 4 } })
enc("fpn", "Data", { fpn = 1.82, fpns = { 1.5, -0.0005, 2.0004, 1e10 } })
enc("fpn.neg", "Data", { fpn = -1.005 })
enc("blob", "Data", { blob = "\0\1\2\255", strings = { "a", "", "bc" } })
enc("empty.arrays", "Data", { numbers = {}, bools = {}, doubles = {}, strings = {} })
enc("far", "Data", { far = 77, number = 3 })
enc("strnum", "Data", { number = "12", double = "2.5" })
enc("float.int", "Data", { number = 3.0 })
enc("book", "AddressBook", {
	person = { [7] = { id = 7, name = "x", phone = { { number = "1", type = 2 } } } },
	byname = { y = { id = 8, name = "y" } },
	pairs = { k = 5 },
	owner = { id = 1 },
})
enc("empty", "Empty", {})
enc("empty.struct", "AddressBook", { owner = {} })
enc("bad.int", "Data", { number = "x" })
enc("bad.float", "Data", { number = 1.5 })
enc("bad.bool", "Data", { bools = { 1 } })
enc("bad.string", "Data", { blob = 12 })
enc("bad.array", "Data", { numbers = 5 })

-- Dense runs and the 6/7 rule of the packer.
local dense = string.rep("\1", 8 * 300) .. "\1\1\1\1\1\1\0\0" .. string.rep("\2", 8) .. "\0\1\0\1\0\1\1\1" .. "\7"
out("pack.dense", hex(sproto.pack(dense)))
out("pack.seven", hex(sproto.pack(string.rep("\1", 8) .. "\1\1\1\1\1\1\1\0" .. "\1\1\0\1\1\0\1\1" .. "\0\0\0\0\0\0\0\1")))
out("pack.empty", hex(sproto.pack("")))
out("unpack.round", hex(sproto.unpack(sproto.pack(dense))))
try("unpack.bad", sproto.unpack, "\255")
try("unpack.bad2", sproto.unpack, "\3\1")

local function dec(name, typename, bytes)
	try("dec." .. name, function()
		local t, n = sp:decode(typename, bytes)
		return show(t) .. " " .. n
	end)
end

dec("bob", "Person", sp:encode("Person", { name = "Bob", age = 40, children = { { name = "A" }, { age = 1 } } }))
dec("data", "Data", sp:encode("Data", {
	numbers = { 1, -1, 0x80000000 }, bools = { true, false }, number = 100000, bignumber = -10000000000,
	double = 0.5, doubles = { 1.25, -3 }, fpn = 1.82, fpns = { 1.5 }, blob = "\0z", strings = { "q" }, far = 9,
}))
dec("empty.arrays", "Data", sp:encode("Data", { numbers = {}, bools = {}, strings = {} }))
dec("book", "AddressBook", sp:encode("AddressBook", {
	person = { [7] = { id = 7, name = "x", phone = { { number = "1", type = 2 } } } },
	pairs = { k = 5 },
	owner = { id = 1, name = "o" },
}))
dec("trailing", "Person", sp:encode("Person", { name = "T" }) .. "\1\2\3")
-- A newer writer's fields are skipped by an older reader.
local newer = sproto.parse [[
.Person {
	name 0 : string
	age 1 : integer
	marital 2 : boolean
	children 3 : *Person
	nick 4 : string
	score 5 : integer
	list 9 : *integer
}
]]
dec("unknown", "Person", newer:encode("Person", { name = "N", nick = "n", score = 99999, list = { 1 }, age = 3 }))
dec("short", "Person", "\1")
dec("cut", "Person", "\1\0\0\0\9\0\0\0ab")
dec("inline.string", "Person", "\1\0\4\0")
dec("int.len3", "Data", "\3\0\5\0\0\0\3\0\0\0\1\2\3")
dec("intarray.width3", "Data", "\1\0\0\0\4\0\0\0\3\1\2\3")
dec("bad.sub", "Person", "\4\0\1\0\1\0\1\0\0\0\4\0\0\0\0\0\0\0")
dec("nokey", "AddressBook", sp:encode("AddressBook", { owner = { id = 1 } }):sub(1, 0) .. "\1\0\0\0\10\0\0\0\6\0\0\0\1\0\1\0\0\0")

try("default.Data", function() return show(sp:default "Data") end)
try("default.Book", function() return show(sp:default "AddressBook") end)
try("default.req", function() return show(sp:default("call", "REQUEST")) end)
try("default.resp.nil", function() return tostring(sp:default("ping", "RESPONSE")) end)

-- The RPC layer, as the examples use it.
local server = sproto.new(c2s_bin):host "package"
local client_host = sproto.new(s2c_bin):host "package"
local client_request = client_host:attach(sproto.new(c2s_bin))
local server_push = server:attach(sproto.new(s2c_bin))

local hs = client_request("handshake", nil, 1)
out("rpc.handshake", hex(hs))
local set = client_request("set", { what = "hello", value = "world" }, 2)
out("rpc.set", hex(set))
local get = client_request("get", { what = "hello" }, 3)
out("rpc.get", hex(get))
local quit = client_request("quit", nil, 4)
out("rpc.quit", hex(quit))
out("rpc.heartbeat", hex(server_push "heartbeat"))

local kind, name, args, respond = server:dispatch(get)
out("rpc.dispatch.get", kind .. " " .. name .. " " .. show(args))
local reply = respond { result = "world" }
out("rpc.reply.get", hex(reply))
-- The client side of that reply (it asked with session 3).
local k2, session, result = client_host:dispatch(reply)
try("rpc.client.reply", function() return k2 .. " " .. session .. " " .. show(result) end)

local kind2, name2, args2, respond2 = server:dispatch(hs)
out("rpc.dispatch.hs", kind2 .. " " .. name2 .. " " .. tostring(args2) .. " " .. type(respond2))
out("rpc.reply.hs", hex(respond2 { msg = "Welcome" }))
local kind3, name3, args3, respond3 = server:dispatch(set)
out("rpc.dispatch.set", kind3 .. " " .. name3 .. " " .. show(args3) .. " " .. type(respond3))
local hb = server_push("heartbeat")
local k4, n4, a4, r4 = client_host:dispatch(hb)
out("rpc.dispatch.hb", k4 .. " " .. n4 .. " " .. tostring(a4) .. " " .. tostring(r4))

-- A response declared nil: the responder takes no arguments.
local bsp = sp
local bhost = bsp:host "Empty"
try("rpc.nohost", function() return sp:host "package" end)
local rq, tag = bsp:request_encode("ping", { name = "p" })
out("rpc.request_encode", hex(rq) .. " " .. tag)
try("rpc.response_encode.nil", function() return hex(bsp:response_encode("ping", nil)) end)
try("rpc.response_encode.notnil", function() return hex(bsp:response_encode("ping", {})) end)
local d, pname = bsp:request_decode("ping", rq)
out("rpc.request_decode", show(d) .. " " .. pname)
out("rpc.exist", tostring(bsp:exist_proto "ping") .. tostring(bsp:exist_proto "nope") .. tostring(bsp:exist_type "KV") .. tostring(bsp:exist_type "nope"))
try("rpc.queryproto", function() local p = bsp:queryproto(12) return p.name .. p.tag end)
try("rpc.notfound", function() return bsp:queryproto("nope") end)
local _ = bhost

-- Errors of sproto.core's argument checks (called as fields, so the
-- messages name the field).
local function call(name, ...)
	local r = core[name](...)
	return r
end
local cobj = sp.__cobj
try("err.querytype", function() local r = core.querytype("x", "y") return r end)
try("err.decode.null", function() return select("#", core.decode(nil, "")) end)
try("err.encode.null", function() local r = core.encode(nil, {}) return r end)
try("err.encode.none", function() local r = core.encode(nil) return r end)
try("err.protocol", function() local r = core.protocol(cobj, {}) return r end)
try("err.load", function() local r = core.loadproto(16) return r end)
try("err.loadnil", function() local r = core.loadproto(15) return r end)
try("err.save", function() local r = core.saveproto(cobj, -1) return r end)
try("err.newproto", function() return tostring((core.newproto("\1\0"))) end)
try("err.decode", function() return sp:decode("Person", "\1\0\0\0") end)
try("err.deep", function()
	local t = {}
	local p = t
	for _ = 1, 70 do
		p.children = { { name = "x" } }
		p = p.children[1]
	end
	return hex(sp:encode("Person", t))
end)
try("err.protocol.tag", function() return select("#", core.protocol(cobj, 99)) end)
try("err.protocol.name", function() local a, b, c = core.protocol(cobj, "ping") return a .. type(b) .. type(c) end)
local _ = call
