-- A node that other nodes may reach only as @echo. Its echo service says
-- REACHED whenever anything arrives, so a test can tell that a refused
-- request got nowhere.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local mode = ...

if mode == "echo" then
	skynet.start(function()
		skynet.dispatch("lua", function(session, _, cmd, ...)
			if cmd == "spin" then
				-- Busy for a millisecond or two, and quiet: a flood's unit.
				for _ = 1, 200000 do
				end
				return
			end
			skynet.error("REACHED " .. tostring(cmd))
			if cmd == "slow" then
				skynet.sleep(200)
			elseif cmd == "hold" then
				-- Never answers: the caller waits until it gives up.
				skynet.wait()
			end
			if session ~= 0 then
				skynet.retpack(...)
			end
		end)
	end)
	return
end

skynet.start(function()
	local echo = skynet.newservice("cluster_target", "echo")
	cluster.register("echo", echo)
	local _, port = cluster.open(0)
	skynet.error("LISTEN " .. port)
end)
