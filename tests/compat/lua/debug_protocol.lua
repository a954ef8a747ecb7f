-- The debug protocol answers MEM, STAT, PING, SUPPORT, INFO; RUN, EXIT and
-- TERM are refused to a caller without the grants (an ordinary service the
-- start service launches: the start service itself holds them).
local skynet = require "skynet"

local mode = ...

if mode == "target" then
	skynet.start(function()
		skynet.info_func(function() return "target info" end)
		skynet.dispatch("lua", function() skynet.ret(skynet.pack("alive")) end)
	end)
elseif mode == "prober" then
	skynet.start(function()
		local t = skynet.newservice("debug_protocol", "target")
		local kb = skynet.call(t, "debug", "MEM")
		assert(type(kb) == "number" and kb > 0)
		local st = skynet.call(t, "debug", "STAT")
		assert(type(st) == "table" and st.mqlen ~= nil and st.message ~= nil)
		skynet.call(t, "debug", "PING")
		assert(skynet.call(t, "debug", "SUPPORT", "lua") == true)
		assert(skynet.call(t, "debug", "INFO") == "target info")
		local ok, err = pcall(skynet.call, t, "debug", "RUN", "print('pwned')", "inject.lua")
		assert(not ok and err:find("call failed"), tostring(err))
		ok = pcall(skynet.call, t, "debug", "EXIT")
		assert(not ok)
		assert(skynet.call(t, "lua") == "alive", "the target still runs")
		skynet.error("PASS")
	end)
else
	skynet.start(function()
		skynet.newservice("debug_protocol", "prober")
	end)
end
