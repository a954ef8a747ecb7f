-- skynet.forward_type dispatches mapped message types as another protocol;
-- skynet.filter sees every message first and may rewrite it.
local skynet = require "skynet"
require "skynet.manager"

local mode = ...

if mode == "forward" then
	skynet.register_protocol { name = "relay", id = 100, pack = skynet.pack, unpack = skynet.unpack }
	skynet.forward_type({ [skynet.PTYPE_LUA] = 100 }, function()
		skynet.dispatch("relay", function(_, _, ...)
			skynet.retpack("relay", ...)
		end)
	end)
elseif mode == "filter" then
	local seen = 0
	skynet.filter(function(ptype, msg, sz, session, source)
		seen = seen + 1
		return ptype, msg, sz, session, source
	end, function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "seen" then
				skynet.retpack(seen)
			else
				skynet.retpack(cmd)
			end
		end)
	end)
else
	skynet.start(function()
		local fwd = skynet.newservice("filter", "forward")
		local tag, a, b = skynet.call(fwd, "lua", 1, "two")
		assert(tag == "relay" and a == 1 and b == "two", tostring(tag))

		local f = skynet.newservice("filter", "filter")
		assert(skynet.call(f, "lua", "hello") == "hello")
		skynet.send(f, "lua", "one way")
		-- the start-up timer, the call, the one-way send and this call
		local seen = skynet.call(f, "lua", "seen")
		assert(seen == 4, "the filter saw " .. tostring(seen) .. " messages")
		skynet.error("PASS")
	end)
end
