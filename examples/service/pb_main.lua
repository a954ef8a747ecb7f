-- The protobuf game's start service (examples/config.protobuf): checks that
-- proto/game.proto compiles (each agent compiles it again for its own pb
-- state), starts the note store and a watchdog whose agents speak protobuf.
local skynet = require "skynet"
local protoc = require "protoc"

skynet.start(function()
	local root = skynet.getenv "root" or "./"
	local p = protoc.new()
	p.paths = { root .. "proto" }
	local ok, err = pcall(p.compilefile, p, "game.proto")
	if not ok then
		skynet.error("protobuf game: proto/game.proto does not compile: " .. tostring(err))
		return skynet.abort()
	end
	skynet.uniqueservice("kvstore")
	local watchdog = skynet.newservice("watchdog", "pb_agent")
	local addr, port = skynet.call(watchdog, "lua", "start", {
		address = skynet.getenv "gate_address",
		port = tonumber(skynet.getenv "gate_port" or 8891),
		maxclient = tonumber(skynet.getenv "max_players" or 64),
		nodelay = true,
	})
	skynet.error(string.format("protobuf game listening on %s:%d", addr, port))
	skynet.exit()
end)
