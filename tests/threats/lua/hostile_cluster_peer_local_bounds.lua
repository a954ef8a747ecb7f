-- What one local service can make clusterd hold is bounded too: nodes in
-- the map (cluster_max_nodes), names per service (max_names), bytes of
-- requests held for nodes with no address (cluster_max_queued); and a
-- listen on a host name does not stall the worker.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	-- A node whose address is a host name, looked up off the worker.
	cluster.reload { here = "localhost:0" }
	local _, port = cluster.open "here"
	assert(port > 0)

	-- The node is run with cluster_max_nodes = 3: of these three new
	-- nodes two fit, and a later reload adds none.
	cluster.reload { n1 = "127.0.0.1:1", n2 = "127.0.0.1:2", n3 = "127.0.0.1:3" }
	assert(cluster.stat().nodes == 3, "nodes: " .. cluster.stat().nodes)
	cluster.reload { n4 = "127.0.0.1:4" }
	assert(cluster.stat().nodes == 3, "nodes after a full map's reload: " .. cluster.stat().nodes)

	cluster.register("one")
	cluster.register("two")
	assert(not pcall(cluster.register, "three"), "a third name")

	local big = string.rep("b", 60000)
	skynet.fork(function()
		pcall(cluster.call, "later", "@x", big)
	end)
	skynet.sleep(2)
	assert(cluster.stat().held == 1)
	assert(not pcall(cluster.call, "later", "@x", big), "held bytes past the limit")
	assert(cluster.stat().held == 1)
	skynet.error("PASS")
end)
