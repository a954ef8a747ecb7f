-- uniqueservice returns the same service every time; queryservice finds it.
local skynet = require "skynet"

local mode = ...

if mode == "single" then
	skynet.start(function()
		skynet.dispatch("lua", function() skynet.ret(skynet.pack(skynet.self())) end)
	end)
else
	skynet.start(function()
		local a = skynet.uniqueservice("unique", "single")
		local b = skynet.uniqueservice("unique", "single")
		assert(a == b, "same unique service")
		assert(skynet.queryservice("unique") == a)
		assert(skynet.call(a, "lua") == a)
		skynet.error("PASS")
	end)
end
