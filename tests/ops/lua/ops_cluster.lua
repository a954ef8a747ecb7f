-- Two nodes for the cluster-link metrics. Without `peer_port` this node
-- is b: it registers an echo service as @echo and listens ("LISTEN
-- <port>"). With it, this node is a: it links to b and calls @echo every
-- 200 ms, saying "CALLED" after the first answer.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local peer = skynet.getenv("peer_port")
	if not peer then
		local echo = skynet.newservice("ops_echo")
		cluster.register("echo", echo)
		local _, port = cluster.open(0)
		skynet.error("LISTEN " .. port)
		return
	end
	cluster.reload { b = "127.0.0.1:" .. peer, __nowaiting = true }
	local first = true
	while true do
		assert(cluster.call("b", "@echo", "ping") == "ping")
		if first then
			skynet.error("CALLED")
			first = false
		end
		skynet.sleep(20)
	end
end)
