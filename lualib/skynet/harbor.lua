-- skynet.harbor for a single node (harbor = 0), through .cslave as in
-- skynet: global names are names in this node's table; a query for one no
-- service has yet waits until one registers it.
local skynet = require "skynet"
require "skynet.manager"

local harbor = {}

function harbor.globalname(name, handle)
	skynet.name(name, handle or skynet.self())
end

function harbor.queryname(name)
	return skynet.call(".cslave", "lua", "QUERYNAME", name)
end

function harbor.link(id)
	skynet.call(".cslave", "lua", "LINK", id)
end

function harbor.connect(id)
	skynet.call(".cslave", "lua", "CONNECT", id)
end

function harbor.linkmaster()
	skynet.call(".cslave", "lua", "LINKMASTER")
end

return harbor
