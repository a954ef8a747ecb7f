-- Threat case: services whose objects' __gc call into skynet.core (and the
-- socket driver) when their state is closed, the functions they call built
-- after the objects. The node must live through every exit, and each
-- finalizer must see a clean outcome (it ran, or it raised an error).
local skynet = require "skynet"

local pings = 0

skynet.start(function()
	skynet.dispatch("lua", function(_, _, what)
		if what == "ping from a finalizer" then
			pings = pings + 1
		end
	end)
	local rounds = 4
	for round = 1, rounds do
		local victim = skynet.newservice("finalizer_at_exit_victim", skynet.self())
		local said = skynet.call(victim, "lua", "exit")
		assert(said == "exiting", tostring(said))
		skynet.error("finalizer_at_exit round " .. round .. " sent exit")
	end
	-- One victim fails its boot after making its objects: its state is
	-- closed on the boot's error path.
	local ok = pcall(skynet.newservice, "finalizer_at_exit_victim", skynet.self(), "fail_boot")
	assert(not ok, "the failing boot must fail")
	-- Give the exits time to close their states, then show the node lives.
	skynet.sleep(20)
	local again = skynet.newservice("finalizer_at_exit_victim", skynet.self())
	assert(skynet.call(again, "lua", "alive") == "alive")
	skynet.error("finalizer_at_exit pings " .. pings)
	skynet.error("finalizer_at_exit PASS")
end)
