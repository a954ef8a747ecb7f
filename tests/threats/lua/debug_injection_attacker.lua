-- The attacker is an ordinary service the start service launches: the
-- start service itself is the operator's and holds debug_run and kill.
local skynet = require "skynet"

local mode = ...

if mode == "victim" then
	skynet.start(function()
		skynet.dispatch("lua", function() skynet.ret(skynet.pack("still here")) end)
	end)
elseif mode == "attacker" then
	skynet.start(function()
		local victim = skynet.newservice("debug_injection_attacker", "victim")
		local ok = pcall(skynet.call, victim, "debug", "RUN", "require('skynet').error('INJECTED')", "evil.lua")
		assert(not ok, "RUN must fail")
		ok = pcall(skynet.call, victim, "debug", "EXIT")
		assert(not ok, "EXIT must fail")
		assert(skynet.call(victim, "lua") == "still here")
		skynet.error("PASS")
	end)
else
	skynet.start(function()
		skynet.newservice("debug_injection_attacker", "attacker")
	end)
end
