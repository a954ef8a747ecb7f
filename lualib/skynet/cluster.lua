-- skynet.cluster: calls between nodes, through the node's clusterd.
--
-- clusterd is a native service the node starts itself; it owns the links
-- (TLS by default), pairs replies with calls, and lets other nodes reach
-- only the names registered here with cluster.register.
local skynet = require "skynet"

local cluster = {}

local clusterd

local function daemon()
	if clusterd then
		return clusterd
	end
	-- The node starts clusterd before any Lua service; a few ticks cover a
	-- service that runs while clusterd is still taking its name.
	for _ = 1, 100 do
		clusterd = skynet.localname(".clusterd")
		if clusterd then
			return clusterd
		end
		skynet.sleep(1)
	end
	error("cluster: this node has no clusterd")
end

local function check_node(node)
	if type(node) ~= "string" then
		error("cluster: the node must be a name, got " .. type(node), 3)
	end
end

function cluster.call(node, address, ...)
	check_node(node)
	return skynet.call(daemon(), "lua", "req", node, address, skynet.packstring(...))
end

function cluster.send(node, address, ...)
	check_node(node)
	skynet.send(daemon(), "lua", "push", node, address, skynet.packstring(...))
end

function cluster.open(port, maxclient)
	-- maxclient is skynet's gate limit; links are bounded by cluster_max_links.
	local _ = maxclient
	if type(port) == "string" then
		return skynet.call(daemon(), "lua", "listen", port)
	end
	return skynet.call(daemon(), "lua", "listen", "0.0.0.0", port)
end

function cluster.reload(config)
	skynet.call(daemon(), "lua", "reload", config)
end

function cluster.register(name, addr)
	assert(type(name) == "string", "cluster.register: the name must be a string")
	skynet.call(daemon(), "lua", "register", name, addr or skynet.self())
end

function cluster.unregister(name)
	assert(type(name) == "string", "cluster.unregister: the name must be a string")
	skynet.call(daemon(), "lua", "unregister", name)
end

function cluster.query(node, name)
	check_node(node)
	return skynet.call(daemon(), "lua", "req", node, 0, skynet.packstring(name))
end

-- proxy(node, name) or proxy("node@name") / proxy("node.name"): a local
-- service whose lua messages become calls (or pushes) to name on node.
function cluster.proxy(node, name)
	if name == nil then
		local n, sep, rest = node:match("^([^@%.]+)([@%.])(.+)$")
		if not n then
			error("cluster.proxy: '" .. node .. "' is not node@name or node.name")
		end
		node, name = n, (sep == "@" and "@" .. rest or "." .. rest)
	end
	return skynet.newservice("clusterproxy", node, tostring(name))
end

-- snax(node, name, address?): a snax object for service `name` on `node`,
-- through a proxy. Without an address it asks the remote .service, a local
-- name that the remote node serves only to peers named in its
-- cluster_any_address; otherwise pass "@registered" (the remote snax service
-- calls snax.enablecluster() so that cluster requests reach it).
function cluster.snax(node, name, address)
	local snax = require "skynet.snax"
	if not address then
		address = cluster.call(node, ".service", "QUERY", "snaxd", name)
	end
	return snax.bind(cluster.proxy(node, address), name)
end

-- The counters of this node's clusterd (links, refusals, limits hit).
function cluster.stat()
	return skynet.call(daemon(), "lua", "stat")
end

return cluster
