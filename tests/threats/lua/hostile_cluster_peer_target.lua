-- A node that other nodes may reach only as @echo (hostile_cluster_peer_target_echo.lua).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local echo = skynet.newservice("hostile_cluster_peer_target_echo")
	cluster.register("echo", echo)
	local _, port = cluster.open(0)
	skynet.error("LISTEN " .. port)
end)
