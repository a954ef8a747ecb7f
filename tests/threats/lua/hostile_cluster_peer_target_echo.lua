-- The service other nodes reach as @echo. It says REACHED whenever
-- anything arrives, so a test can tell that a refused request got nowhere.
local skynet = require "skynet"

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
