-- The calling node: skynet.cluster's API against node b.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	cluster.reload { b = "127.0.0.1:" .. skynet.getenv("peer_port"), __nowaiting = true }

	local n, s, t = cluster.call("b", "@echo", "echo", 1, "two", { x = 3, 4 })
	assert(n == 1 and s == "two" and t.x == 3 and t[1] == 4, "echo")
	assert(math.type(n) == "integer")
	assert(select("#", cluster.call("b", "@echo", "echo")) == 0, "no results")

	-- Messages of more than one packet, both ways.
	local big = string.rep("0123456789", 10000)
	assert(cluster.call("b", "@echo", "echo", big) == big, "large")
	assert(cluster.call("b", "@echo", "size", string.rep("y", 0x8000 * 3)) == 0x8000 * 3)

	-- Pushes and calls keep their order on one link.
	cluster.send("b", "@echo", "push", 5)
	cluster.send("b", "@echo", "push", 6)
	assert(cluster.call("b", "@echo", "pushed") == 11, "pushed")

	-- A remote error is "call failed" here.
	local ok, err = pcall(cluster.call, "b", "@echo", "fail")
	assert(not ok and err:find("call failed"), tostring(err))

	-- Names registered on b, by query.
	local h = cluster.query("b", "echo")
	assert(math.type(h) == "integer" and h > 0, tostring(h))
	assert(not pcall(cluster.query, "b", "nothing"))

	-- temp was registered again after its first service exited.
	assert(cluster.call("b", "@temp", "echo", "again") == "again")

	-- What was not registered is out of reach by default.
	assert(not pcall(cluster.call, "b", h, "echo", 1), "numeric address")
	assert(not pcall(cluster.call, "b", ".local_only", "echo", 1), "local name")
	assert(not pcall(cluster.call, "b", "@nothing", "echo", 1), "unknown name")

	-- A node that is not in the map fails at once with __nowaiting.
	assert(not pcall(cluster.call, "nowhere", "@echo", "echo"))

	-- A proxy is a local service that forwards to the remote one.
	local p = cluster.proxy("b@echo")
	assert(skynet.call(p, "lua", "echo", 7, 8) == 7)
	local p2 = cluster.proxy("b", "@echo")
	skynet.send(p2, "lua", "push", 1)
	assert(skynet.call(p2, "lua", "pushed") == 12)

	-- The node's second port is another way in: a node named b2.
	cluster.reload { b2 = "127.0.0.1:" .. skynet.getenv("peer_port2") }
	assert(cluster.call("b2", "@echo", "echo", "two") == "two")

	-- A remote snax service, by its registered name.
	local ping = cluster.snax("b", "cluster_snax", "@pingsnax")
	assert(ping.req.ping("hello") == "pong hello")
	ping.post.hit(2)
	assert(ping.req.hits() == 2)
	-- Asking b's .service for it is refused: b serves local names to no one.
	assert(not pcall(cluster.snax, "b", "cluster_snax"))

	-- Marked down, a node fails its calls at once.
	cluster.reload { b2 = false }
	assert(not pcall(cluster.call, "b2", "@echo", "echo", 1))

	local st = cluster.stat()
	assert(st.links == 1, "one link left (b2 is down): " .. tostring(st.links))
	skynet.error("PASS")
end)
