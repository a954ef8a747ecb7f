-- The example game server's start service.
local skynet = require "skynet"

skynet.start(function()
	skynet.error("game server starting")
	skynet.uniqueservice("login")
	skynet.uniqueservice("rooms")
	local watchdog = skynet.newservice("watchdog")
	local addr, port = skynet.call(watchdog, "lua", "start", {
		address = skynet.getenv "gate_address",
		port = tonumber(skynet.getenv "gate_port" or 8888),
		maxclient = tonumber(skynet.getenv "max_players" or 64),
		nodelay = true,
	})
	skynet.error(string.format("game server listening on %s:%d", addr, port))
	skynet.exit()
end)
