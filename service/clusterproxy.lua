-- A local stand-in for a service on another node: every lua message it
-- gets becomes a cluster call (or, sent with no session, a push).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local node, address = ...
address = tonumber(address) or address

skynet.start(function()
	skynet.dispatch("lua", function(session, _, ...)
		if session == 0 then
			cluster.send(node, address, ...)
		else
			skynet.retpack(cluster.call(node, address, ...))
		end
	end)
end)
