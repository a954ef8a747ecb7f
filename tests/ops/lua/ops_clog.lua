-- Queues 40 messages of 1000 bytes to itself, then handles each slowly
-- (50 ms of work), so its mailbox holds bytes for about two seconds;
-- says "CLOG <address>" once they are queued.
local skynet = require "skynet"

local handled = 0

skynet.start(function()
	skynet.dispatch("lua", function(_, _, what, blob)
		local t = skynet.hpc()
		while skynet.hpc() - t < 50000000 do
		end
		handled = handled + 1
	end)
	local blob = string.rep("b", 1000)
	for _ = 1, 40 do
		skynet.send(skynet.self(), "lua", "slow", blob)
	end
	skynet.error("CLOG " .. skynet.address(skynet.self()))
end)
