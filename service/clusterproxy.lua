-- A local stand-in for a service on another node: every lua or snax
-- message it gets becomes a cluster call (or, with no session, a push).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local node, address = ...
address = tonumber(address) or address

-- lua and snax messages alike: on the other node a snax service that
-- enabled the cluster takes snax requests as lua messages.
local function forward(session, _, ...)
	if session == 0 then
		cluster.send(node, address, ...)
	else
		skynet.retpack(cluster.call(node, address, ...))
	end
end

skynet.start(function()
	require "skynet.snax"
	skynet.dispatch("lua", forward)
	skynet.dispatch("snax", forward)
end)
