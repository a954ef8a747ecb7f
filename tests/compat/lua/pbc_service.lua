-- pbc's protobuf.c inside skyhold services, called the way pbc's
-- protobuf.lua calls it: the registry lookup protobuf.lua starts with
-- finds a stand-in (not Lua's registry), two services register the same
-- descriptor set and exchange messages written with _wmessage_* and read
-- with _decode; errors are strings; hostile bytes fail cleanly.
local skynet = require "skynet"
local c = require "protobuf.c"

local mode = ...

-- protobuf.lua's first lines.
local P = debug.getregistry().PROTOBUF_ENV
assert(P == nil, "no shared environment")
assert(debug.getregistry()[2] == nil and debug.getregistry()[1] == nil, "a stand-in, not Lua's registry")
P = c._env_new()
local GC = c._gc(P)
c._env_register(P, require "pbc_schema")

local function write(w, msgtype, t)
	for k, v in pairs(t) do
		local ty, sub = c._env_type(P, msgtype, k)
		assert(ty ~= 0, k)
		local base, rep = ty & 127, ty & 128 ~= 0
		for _, x in ipairs(rep and v or { v }) do
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

local function encode(msgtype, t)
	local w = assert(c._wmessage_new(P, msgtype), msgtype)
	write(w, msgtype, t)
	local s = c._wmessage_buffer_string(w)
	c._wmessage_delete(w)
	return s
end

local function decode(msgtype, buffer, sz)
	local t = {}
	local function sub(typename, b)
		return assert(decode(typename, b))
	end
	if c._decode(P, sub, t, msgtype, buffer, sz) then
		return t
	end
	return false, c._last_error(P)
end

if mode == "server" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, bin)
			local t = assert(decode("pbct.All", bin))
			local reply = { req = t.req + 1, s = "hello " .. t.s, rm = {}, re = t.re, rp = t.rp }
			for i, p in ipairs(t.rm) do reply.rm[i] = { x = p.x * 10 } end
			skynet.ret(skynet.pack(encode("pbct.All", reply)))
		end)
	end)
else
	skynet.start(function()
		local server = skynet.newservice("pbc_service", "server")
		local bin = encode("pbct.All", {
			req = 1, s = "ann", rm = { { x = 1 }, { x = 2 } }, re = { "BLUE", "RED" }, rp = { 1, -1, 300 },
		})
		local reply = assert(decode("pbct.All", skynet.call(server, "lua", bin)))
		assert(reply.req == 2 and reply.s == "hello ann", "scalars")
		assert(reply.rm[1].x == 10 and reply.rm[2].x == 20, "messages")
		assert(reply.re[1] == "BLUE" and reply.re[2] == "RED", "enums")
		assert(reply.rp[1] == 1 and reply.rp[2] == -1 and reply.rp[3] == 300, "packed")

		-- defaults through the field-by-field reader, as protobuf.lua reads them
		local r = c._rmessage_new(P, "pbct.All", "")
		c._add_rmessage(GC, r)
		assert(c._rmessage_int(r, "dint", 0) == 42 and c._rmessage_string(r, "dcol", 0) == "GREEN")
		assert(c._rmessage_real(r, "ddbl", 0) == 1.5 and c._rmessage_string(r, "dstr", 0) == "hi")

		-- a pattern
		local pat = c._pattern_new(P, "pbct.Point", "@x %d y %d")
		c._add_pattern(GC, pat)
		local x, y = c._pattern_unpack(pat, "ii", 8, c._pattern_pack(pat, "ii", 8, 3, -4))
		assert(x == 3 and y == -4, "pattern")

		-- errors are strings with pbc's words
		local ok, e = pcall(encode, "pbct.All", { e = "PURPLE" })
		assert(not ok and type(e) == "string" and e:find("Write string error : PURPLE", 1, true), tostring(e))
		ok, e = pcall(c._env_register, P, "\255")
		assert(not ok and e:find("register fail", 1, true), tostring(e))
		assert(c._last_error(P) == "register open google.protobuf.FileDescriptorSet fail")

		-- hostile bytes: truncated, huge lengths, groups; deep nesting is bounded
		assert(select(2, decode("pbct.All", "\10\5ab")) == "decode context error")
		assert(select(2, decode("pbct.All", "\74\255\255\255\255\15")) == "decode context error")
		assert(select(2, decode("pbct.All", "\11\12")) == "decode context error")
		local w = c._wmessage_new(P, "pbct.Tree")
		ok, e = pcall(function()
			for _ = 1, 200 do w = c._wmessage_message(w, "kids") end
		end)
		assert(not ok and e:find("nested deeper than", 1, true), tostring(e))
		local chain = "\8\1"
		for _ = 1, 300 do chain = "\18" .. string.char(#chain < 128 and #chain or 0) .. chain end
		-- read level by level (each a Lua call): a table, or a clean error
		local okc, res = pcall(decode, "pbct.Tree", chain)
		assert(okc or type(res) == "string", tostring(res))
		skynet.error("PASS")
	end)
end
