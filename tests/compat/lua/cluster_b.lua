-- The called node: exposes @echo and listens on a free port.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local echo = skynet.newservice("cluster_echo")
	cluster.register("echo", echo)
	-- Registered twice to the same service is fine; to another is not.
	cluster.register("echo", echo)
	local other = skynet.newservice("cluster_echo")
	assert(not pcall(cluster.register, "echo", other))
	skynet.newservice("cluster_echo", ".local_only")
	local addr, port = cluster.open(0)
	assert(addr == "0.0.0.0", addr)
	skynet.error("LISTEN " .. port)
end)
