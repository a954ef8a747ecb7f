-- lua-protobuf (pb) inside skyhold services: two services load the same
-- descriptor set and talk protobuf through skynet messages; errors are
-- strings with lua-protobuf's words; hostile bytes (deep nesting, huge
-- lengths, truncation, unknown groups) are refused or skipped cleanly.
local skynet = require "skynet"
local pb = require "pb"

local mode = ...

local function load_schema()
	local ok, pos = pb.load(require "pb_schema")
	assert(ok, "load failed at " .. tostring(pos))
end

local function fails(pattern, f, ...)
	local ok, e = pcall(f, ...)
	assert(not ok, "expected an error like " .. pattern)
	assert(type(e) == "string", "errors are strings, got " .. type(e))
	assert(e:find(pattern, 1, true), "error '" .. e .. "' lacks '" .. pattern .. "'")
end

if mode == "server" then
	skynet.start(function()
		load_schema()
		skynet.dispatch("lua", function(_, _, bin)
			local login = pb.decode("game.Login", bin)
			local reply
			if login.token == "secret" then
				reply = { code = "OK", greeting = "hello " .. login.account, echo = { login } }
			else
				reply = { code = "DENIED" }
			end
			skynet.ret(skynet.pack(pb.encode("game.Reply", reply)))
		end)
	end)
else
	skynet.start(function()
		load_schema()
		local server = skynet.newservice("pb_service", "server")
		local login = {
			account = "ann", uid = 12345678901, items = { 1, 2, 300 },
			stats = { hp = 10 }, pos = { x = 1.5, y = -2 }, token = "secret",
		}
		local bin = pb.encode("game.Login", login)
		local reply = pb.decode("game.Reply", skynet.call(server, "lua", bin))
		assert(reply.code == "OK" and reply.greeting == "hello ann")
		local echo = reply.echo[1]
		assert(echo.uid == 12345678901 and echo.items[3] == 300 and echo.stats.hp == 10)
		assert(echo.pos.x == 1.5 and echo.pos.y == -2 and echo.via == "token")
		reply = pb.decode("game.Reply", skynet.call(server, "lua", pb.encode("game.Login", { account = "bob" })))
		assert(reply.code == "DENIED" and reply.greeting == "" and #reply.echo == 0)

		-- proto3 zero values are not written; field info and enums.
		assert(pb.encode("game.Vec", { x = 0, y = 0 }) == "")
		assert(pb.tohex(pb.encode("game.Vec", { x = 1 })) == "0D 00 00 80 3F")
		assert(pb.enum("game.Reply.Code", 1) == "DENIED")
		assert(select(3, pb.field("game.Login", "items")) == "int32")

		-- errors, with lua-protobuf's words
		fails("type 'game.Nope' does not exists", pb.encode, "game.Nope", {})
		fails("string expected for field 'account', got table", pb.encode, "game.Login", { account = {} })
		fails("unfinished bytes (len 10 at offset 3)", pb.decode, "game.Login", "\10\10ab")
		fails("invalid varint value at offset 2", pb.decode, "game.Login", "\16\255")
		fails("type mismatch for field 'account'", pb.decode, "game.Login", "\8\1")
		fails("invalid bytes length", pb.decode, "game.Login",
			"\10\255\255\255\255\255\255\255\255\255\1")

		-- hostile nesting is bounded; unknown groups and fields are skipped
		local nested = {}
		local cur = nested
		for _ = 1, 150 do cur.child = {}; cur = cur.child end
		fails("too many levels", pb.encode, "game.Node", nested)
		local chain = "\16\1"
		for _ = 1, 150 do chain = "\10" .. require("pb.buffer").pack("v", #chain) .. chain end
		fails("too many levels", pb.decode, "game.Node", chain)
		local t = pb.decode("game.Node", "\27\8\1\28\16\7\250\7\1\0")
		assert(t.v == 7)

		-- low-level modules
		local slice, buffer = require "pb.slice", require "pb.buffer"
		local s = slice.new(pb.encode("game.Vec", { x = 1 }))
		local tag, x = s:unpack "vf"
		assert(tag == 13 and x == 1.0)
		assert(buffer.new():pack("v(v)", 1, 2):tohex() == "01 01 02")
		skynet.error("PASS")
	end)
end
