-- The game node's start service: calls the db node's @db over the cluster.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	cluster.open "game"
	cluster.call("db", "@db", "set", "alice", { level = 3 })
	local alice = cluster.call("db", "@db", "get", "alice")
	skynet.error("game node: alice is level " .. alice.level .. " on the db node")
	-- The db node's launcher is not registered, so it is out of reach.
	local ok = pcall(cluster.call, "db", ".launcher", "LIST")
	skynet.error("game node: the db node's launcher is " .. (ok and "REACHABLE (!)" or "out of reach"))
end)
