-- A replica set through the test's peers: connected to a secondary, the
-- client follows ismaster's primary, and its commands go there.
local skynet = require "skynet"
local mongo = require "skynet.db.mongo"

local function check(cond, what)
	if not cond then
		error("FAIL " .. what, 2)
	end
end

skynet.start(function()
	local primary = tonumber(skynet.getenv "mongo_primary")
	local c = mongo.client {
		rs = { { host = "127.0.0.1", port = tonumber(skynet.getenv "mongo_port"), username = "admin",
			password = "123456", authdb = "admin" } },
	}
	check(c.port == primary, "moved to the primary: " .. tostring(c.port))
	local users = c.game.users
	check(users:safe_insert { name = "rs" }, "insert on the primary")
	check(users:findOne({ name = "rs" }).name == "rs", "find on the primary")
	skynet.error("PASS mongo_rs")
end)
