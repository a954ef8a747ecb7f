-- sproto inside a sandboxed service: encode/decode/pack, errors raised as
-- strings with skynet's wording, a hostile schema refused with a reason,
-- and sprotoloader's node-wide slots, written once.
local skynet = require "skynet"
local sproto = require "sproto"
local sprotoloader = require "sprotoloader"
local parser = require "sprotoparser"
local proto = require "sproto_proto"

local function fails(pattern, f, ...)
	local ok, e = pcall(f, ...)
	assert(not ok, "expected an error like " .. pattern)
	assert(type(e) == "string", "errors are strings, got " .. type(e))
	assert(e:find(pattern, 1, true), "error '" .. e .. "' lacks '" .. pattern .. "'")
end

skynet.start(function()
	local sp = sproto.parse [[
		.P {
			a 0 : integer
			b 1 : *string
			c 2 : integer(2)
			d 3 : double
			e 5 : *P(a)
		}
	]]
	local bin = sp:encode("P", { a = 1, b = { "x", "y" }, c = 1.5, d = 0.25, e = { [3] = { a = 3 } } })
	local t, n = sp:decode("P", bin)
	assert(n == #bin)
	assert(t.a == 1 and t.b[2] == "y" and t.c == 1.5 and t.d == 0.25 and t.e[3].a == 3)
	assert(sp:pdecode("P", sp:pencode("P", { a = 70000 })).a == 70000)
	assert(sp:default("P").e.__array == "P")

	fails("P.a[0] is not an integer (Is a string)", sp.encode, sp, "P", { a = "x" })
	fails("decode error", sp.decode, sp, "P", "\1")
	fails("Invalid unpack stream", sproto.unpack, "\255")
	fails("Undefined type X in type A", parser.parse, ".A { a 0 : X }")
	fails("syntax error at [=text] line (2)", parser.parse, ".A {\n a 0 :")
	fails("invalid sproto schema", sproto.new, "\2\0\0\0\0\0\255\255\255\255")

	-- The node's slots: saved once, loaded by any service.
	sprotoloader.save(proto.c2s, 5)
	fails("slot 5", sprotoloader.save, proto.s2c, 5)
	local loaded = sprotoloader.load(5)
	assert(loaded:exist_proto "handshake" and not loaded:exist_proto "heartbeat")
	fails("nil sproto at index 6", sprotoloader.load, 6)
	fails("Invalid global slot index 16", sprotoloader.load, 16)

	-- register reads a file: only where the sandbox offers io.open.
	if io and io.open then
		local ok = pcall(sprotoloader.register, "sproto_missing_file.sproto", 7)
		assert(not ok, "a missing file is an error")
	end
	skynet.error("PASS")
end)
