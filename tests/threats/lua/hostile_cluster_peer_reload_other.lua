-- An ordinary service that tries to change the cluster map (see
-- hostile_cluster_peer_reload_grant.lua).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	skynet.dispatch("lua", function()
		local ok = pcall(cluster.reload, { db = false })
		skynet.retpack(ok)
	end)
end)
