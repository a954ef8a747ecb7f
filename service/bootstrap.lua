-- The first Lua service: starts the launcher, the unique-service manager and
-- the datacenter, then the configured start service, and exits.
local skynet = require "skynet"
local manager = require "skynet.manager"

skynet.start(function()
	local launcher = assert(skynet.launch("snlua", "launcher"))
	skynet.name(".launcher", launcher)

	local harbor = tonumber(skynet.getenv "harbor" or 0)
	if harbor ~= 0 then
		skynet.error("harbor " .. harbor .. ": skyhold runs single-node harbors only; use the cluster for more nodes")
	end
	skynet.setenv("standalone", "true")

	local ok, slave = pcall(skynet.newservice, "cdummy")
	if not ok or not slave then
		skynet.abort()
		return
	end
	skynet.name(".cslave", slave)

	local datacenter = skynet.newservice "datacenterd"
	skynet.name("DATACENTER", datacenter)

	local service_mgr = skynet.newservice "service_mgr"
	skynet.name(".service", service_mgr)
	skynet.name("SERVICE", service_mgr)

	pcall(skynet.newservice, skynet.getenv "start" or "main")
	skynet.exit()
end)
