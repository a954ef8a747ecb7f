-- pb's and protobuf.c's limits from the config (tests/compat/pb.rs sets
-- pb_max_depth = 5, pb_max_bytes = 1000, pbc_max_depth = 3 and
-- pbc_max_bytes = 2000): what is within each passes, what is past it
-- fails with the module's error, and each refusal is counted (the test
-- reads the node's audit counts).
local skynet = require "skynet"
local pb = require "pb"
local protoc = require "protoc"
local c = require "protobuf.c"
local expect = require "expect"

local SCHEMA = [[
syntax = "proto2";
message Node {
  optional Node child = 1;
  optional bytes data = 2;
}
]]

-- A table of `n` nested messages.
local function chain(n)
	local t = {}
	local cur = t
	for _ = 2, n do
		cur.child = {}
		cur = cur.child
	end
	return t
end

-- The bytes of `n` nested messages.
local function chain_bytes(n)
	local s = ""
	for _ = 2, n do
		s = "\10" .. string.char(#s) .. s
	end
	return s
end

-- A config asking for more than the ceiling gets 1000 levels: they work,
-- on the worker's stack, and 1001 do not.
local function ceiling()
	local b = pb.encode("Node", chain(1000))
	local t = pb.decode("Node", b)
	local n = 0
	while t do
		n, t = n + 1, t.child
	end
	assert(n == 1000, n)
	expect.fails("too many levels", pb.encode, "Node", chain(1001))
	expect.fails("too many levels", pb.decode, "Node", "\10" .. require("pb.buffer").pack("v", #b) .. b)
	skynet.error("PASS")
end

skynet.start(function()
	assert(protoc:load(SCHEMA, "limits.proto"))
	if skynet.getenv "pb_max_depth" == "5000" then
		return ceiling()
	end

	-- pb_max_depth = 5: encode and decode
	assert(pb.encode("Node", chain(5)) == chain_bytes(5))
	expect.fails("too many levels", pb.encode, "Node", chain(6))
	assert(pb.decode("Node", chain_bytes(5)).child.child.child.child)
	expect.fails("too many levels", pb.decode, "Node", chain_bytes(6))

	-- pb_max_bytes = 1000: one field, and the sum of several
	assert(#pb.encode("Node", { data = string.rep("x", 990) }) == 993)
	expect.fails("out of memory", pb.encode, "Node", { data = string.rep("x", 1000) })
	expect.fails("out of memory", pb.encode, "Node",
		{ data = string.rep("x", 600), child = { data = string.rep("y", 600) } })
	-- descriptors nest within pb_max_depth too (protoc.lua could not even
	-- encode such a set here, so it is written by hand): file, A, B, C, D, E
	local function ld(field, body)
		return string.char(field << 3 | 2, #body) .. body
	end
	local desc = ld(1, "E")
	for _, name in ipairs { "D", "C", "B" } do
		desc = ld(1, name) .. ld(3, desc)
	end
	local set = ld(1, ld(1, "deep.proto") .. ld(4, ld(1, "A") .. ld(3, desc)))
	local ok, pos = pb.load(set)
	assert(not ok and pos > 0, "a set nested 6 deep loads")
	local buffer = require "pb.buffer"
	assert(#buffer.new():pack("s", string.rep("z", 900)):result() == 902)
	expect.fails("out of memory", function()
		return buffer.new():pack("ss", string.rep("z", 900), string.rep("z", 200))
	end)

	-- protobuf.c: pbc_max_depth = 3, pbc_max_bytes = 2000
	local env = c._env_new()
	c._env_register(env, protoc:compile(SCHEMA, "limits.proto"))
	local w = assert(c._wmessage_new(env, "Node"))
	local w2 = assert(c._wmessage_message(w, "child"))
	local w3 = assert(c._wmessage_message(w2, "child"))
	expect.fails("protobuf.c: messages nested deeper than 3", c._wmessage_message, w3, "child")
	c._wmessage_delete(w)
	w = assert(c._wmessage_new(env, "Node"))
	c._wmessage_string(w, "data", string.rep("x", 1900))
	expect.fails("protobuf.c: message larger than 2000 bytes", c._wmessage_string, w, "data",
		string.rep("x", 200))
	c._wmessage_delete(w)
	-- and its descriptors within pbc_max_depth: file, A, B, a field
	expect.fails("register fail", c._env_register, env,
		protoc:compile("message A { message B { optional int32 x = 1; } }", "deep.proto"))
	assert(c._last_error(env) == "register open google.protobuf.FileDescriptorSet fail")
	skynet.error("PASS")
end)
