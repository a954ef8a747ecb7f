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
	if skynet.getenv "web_port" then
		-- the browser version: WebSocket players through the native gate
		local web = skynet.newservice("webwatchdog")
		local waddr, wport = skynet.call(web, "lua", "start", {
			address = skynet.getenv "web_address" or "127.0.0.1",
			port = tonumber(skynet.getenv "ws_port"),
			maxclient = tonumber(skynet.getenv "max_players" or 64),
		})
		skynet.error(string.format("WebSocket players on ws://%s:%d/", waddr, wport))
		if skynet.getenv "wss_port" then
			-- and over TLS (wss://), with the config's certfile and keyfile
			local secure = skynet.newservice("webwatchdog")
			local saddr, sport = skynet.call(secure, "lua", "start", {
				address = skynet.getenv "web_address" or "127.0.0.1",
				port = tonumber(skynet.getenv "wss_port"),
				maxclient = tonumber(skynet.getenv "max_players" or 64),
				tls = true,
			})
			skynet.error(string.format("WebSocket players on wss://%s:%d/", saddr, sport))
		end
		skynet.newservice("webpage")
	end
	skynet.exit()
end)
