-- The config's start service is the operator's: it may kill, hotfix the
-- services it started and end the node with skynet.abort(), as a skynet
-- `main` does. Those powers are its own: another service from the same
-- script, or one it starts, holds none of them.
local skynet = require "skynet"
require "skynet.manager" -- skynet.kill, skynet.abort
local snax = require "skynet.snax"
local core = require "skynet.core"

local mode = ...

if mode == "twin" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, target)
			if cmd == "role" then
				skynet.retpack(core.identity().role)
			elseif cmd == "kill" then
				skynet.retpack((pcall(skynet.kill, target)))
			elseif cmd == "abort" then
				skynet.retpack((pcall(skynet.abort)))
			end
		end)
	end)
elseif mode == "idle" then
	skynet.start(function() end)
else
	skynet.start(function()
		assert(core.identity().role == "start", "the start service has the start role")
		-- Same script, started by the start service: ordinary.
		local twin = skynet.newservice("start_service", "twin")
		assert(skynet.call(twin, "lua", "role") == "service", "a twin is ordinary")
		local victim = skynet.newservice("start_service", "idle")
		assert(skynet.call(twin, "lua", "kill", victim) == false, "a twin may not kill")
		assert(skynet.call(twin, "lua", "abort") == false, "a twin may not abort")
		assert(pcall(skynet.call, victim, "debug", "PING"), "the victim lives")

		-- The start service kills.
		skynet.kill(victim)
		assert(not pcall(skynet.call, victim, "debug", "PING"), "the victim is gone")

		-- It hotfixes a snax service it started, and runs code in a
		-- service it started.
		local obj = snax.newservice("snax_counter", 1)
		snax.hotfix(obj, [[
			function response.get()
				return "patched"
			end
		]])
		assert(obj.req.get() == "patched", "hotfixed")
		local ok, out = skynet.call(twin, "debug", "RUN", "print(6 * 7)", "probe.lua")
		assert(ok and out:find("42", 1, true), "debug RUN in a service it started")

		skynet.error("PASS start_service")
		-- As many a skynet main ends: the node stops.
		skynet.abort()
	end)
end
