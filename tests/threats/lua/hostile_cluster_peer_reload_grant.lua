-- Only the start service (or a holder of cluster_admin) may say where the
-- cluster's nodes are: a compromised service cannot mark them down or
-- point them elsewhere.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	cluster.reload { db = "127.0.0.1:1" }
	local other = skynet.newservice("hostile_cluster_peer_reload_other")
	assert(skynet.call(other, "lua") == false, "another service changed the map")
	-- Re-reading the operator's file is open to all; there is none here.
	assert(cluster.stat().nodes == 1)
	skynet.error("PASS")
end)
