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
	-- clusterd itself is never exposed.
	assert(not pcall(cluster.register, "daemon", skynet.localname(".clusterd")))
	-- A name goes with its service: once it has exited the name is free.
	local short = skynet.newservice("cluster_echo")
	cluster.register("temp", short)
	skynet.send(short, "lua", "quit")
	skynet.sleep(1)
	cluster.register("temp", other)
	skynet.newservice("cluster_echo", ".local_only")
	local snax = require "skynet.snax"
	local ping = snax.uniqueservice("cluster_snax")
	cluster.register("pingsnax", ping.handle)
	-- Two ports, as skynet's examples open "db" and "db2" on one node.
	local addr, port = cluster.open(0)
	assert(addr == "0.0.0.0", addr)
	local _, port2 = cluster.open(0)
	assert(port2 ~= port)
	skynet.error("LISTEN2 " .. port2)
	skynet.error("LISTEN " .. port)
end)
