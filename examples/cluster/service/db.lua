-- The db node's start service: a key-value store other nodes reach as @db.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local mode = ...

if mode == "store" then
	local store = {}
	local command = {}
	function command.set(key, value)
		local old = store[key]
		store[key] = value
		return old
	end
	function command.get(key)
		return store[key]
	end
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, ...)
			local f = command[cmd]
			if not f then
				error("db: no command " .. tostring(cmd))
			end
			skynet.retpack(f(...))
		end)
	end)
	return
end

skynet.start(function()
	local store = skynet.newservice("db", "store")
	cluster.register("db", store)
	cluster.open "db"
	skynet.error("db node: @db is open to the cluster")
end)
