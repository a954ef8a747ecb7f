-- skynet.harbor for a single node (harbor = 0): global names are local
-- names here, and there is no other harbor to link to or wait for.
local skynet = require "skynet"
require "skynet.manager"

local harbor = {}

function harbor.globalname(name, handle)
	handle = handle or skynet.self()
	skynet.name(name, handle)
end

function harbor.queryname(name)
	return skynet.localname(name)
end

function harbor.link(id)
	-- Only this node exists: nothing can disconnect; wait forever, as a
	-- link to a harbor that never goes away would.
	skynet.wait()
end

function harbor.connect(id)
	-- Harbor 0 is always connected.
end

function harbor.linkmaster()
	skynet.wait()
end

return harbor
