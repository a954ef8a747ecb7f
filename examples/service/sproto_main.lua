-- The sproto game's start service (examples/config.sproto): saves the two
-- schemas in sprotoloader's slots once for the whole node (1: what clients
-- send, 2: what the server pushes), starts the note store and a watchdog
-- whose agents speak sproto, and skynet's stdin console.
local skynet = require "skynet"
local sprotoloader = require "sprotoloader"

skynet.start(function()
	local root = skynet.getenv "root" or "./"
	sprotoloader.register(root .. "proto/game_c2s.sproto", 1)
	sprotoloader.register(root .. "proto/game_s2c.sproto", 2)
	skynet.uniqueservice("kvstore")
	local watchdog = skynet.newservice("watchdog", "sproto_agent")
	local addr, port = skynet.call(watchdog, "lua", "start", {
		address = skynet.getenv "gate_address",
		port = tonumber(skynet.getenv "gate_port" or 8890),
		maxclient = tonumber(skynet.getenv "max_players" or 64),
		nodelay = true,
	})
	skynet.error(string.format("sproto game listening on %s:%d", addr, port))
	skynet.newservice("console")
	skynet.exit()
end)
