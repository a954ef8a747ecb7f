-- Calls to a node with no address wait for a reload, but only up to
-- cluster_max_waiting of them; the rest fail at once.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local held_result
	skynet.fork(function()
		held_result = { pcall(cluster.call, "later", "@x", 1) }
	end)
	skynet.sleep(5)
	assert(held_result == nil, "the first call should wait")
	local ok, err = pcall(cluster.call, "later", "@x", 2)
	assert(not ok and err:find("call failed"), tostring(err))
	-- The node is marked down: what waited fails too.
	cluster.reload { later = false }
	skynet.sleep(5)
	assert(held_result and held_result[1] == false, "the held call should have failed")
	assert(cluster.stat().unreachable >= 2)
	skynet.error("PASS")
end)
