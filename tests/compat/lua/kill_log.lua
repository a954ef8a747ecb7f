-- skynet's core says when a service leaves: `KILL self` from a service
-- that calls skynet.exit(), and `KILL :<hex>` from the service that kills
-- another. The Rust side (main.rs, kill_log) reads the lines; this
-- service prints the handles it should find in them.
local skynet = require "skynet"
require "skynet.manager" -- skynet.kill, skynet.abort

local mode = ...

if mode == "child" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "exit" then
				skynet.exit()
			end
		end)
	end)
else
	skynet.start(function()
		local leaver = skynet.newservice("kill_log", "child")
		local victim = skynet.newservice("kill_log", "child")
		skynet.send(leaver, "lua", "exit")
		skynet.kill(victim)
		skynet.sleep(10)
		skynet.error(string.format("HANDLES %08x %08x %08x", skynet.self(), leaver, victim))
		skynet.error("PASS kill_log")
	end)
end
