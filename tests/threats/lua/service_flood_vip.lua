-- A service whose role (service_flood_policy.lua) raises the spawn burst
-- and lifts the memory budget: it starts services past the node's limits.
local skynet = require "skynet"

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, n)
		assert(cmd == "flood")
		local started, err = 0, nil
		for _ = 1, n do
			local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
			if not ok then
				err = e
				break
			end
			started = started + 1
		end
		skynet.retpack(started, err)
	end)
end)
