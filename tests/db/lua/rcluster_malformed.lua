-- A fake cluster node's replies (tests/db/rcluster.rs): redirections out
-- of range raise a clear error, a redirection loop is given up after 16
-- tries, and a slot map with a slot out of range is not taken.
local skynet = require "skynet"
local cluster = require "skynet.db.redis.cluster"

local function check(cond, what)
	if not cond then
		error("FAIL " .. what, 2)
	end
end

local function raises(pattern, f, ...)
	local ok, err = pcall(f, ...)
	check(not ok, "no error, wanted " .. pattern)
	check(string.find(tostring(err), pattern, 1, true), "error " .. tostring(err) .. ", wanted " .. pattern)
	skynet.error("raised: " .. tostring(err))
end

skynet.start(function()
	local good = tonumber(skynet.getenv "rcluster_good")
	local db = cluster.new({ host = "127.0.0.1", port = good })
	check(#db.nodes == 1 and db.slots[16383].port == good, "the fake's slot map")
	check(db:get "plain" == "ok", "a plain get")
	raises("redis cluster: malformed redirection: MOVED 99999999", db.get, db, "badslot")
	raises("redis cluster: malformed redirection: MOVED 5 127.0.0.1:99999", db.get, db, "badport")
	raises("Too many Cluster redirections", db.get, db, "loop")
	check(db:get "plain" == "ok", "a get after the errors")

	local bad = cluster.new({ host = "127.0.0.1", port = tonumber(skynet.getenv "rcluster_bad") })
	check(next(bad.slots) == nil and #bad.nodes == 0, "a slot out of range: the map is not taken")
	raises("Can't reach a single startup node.", bad.get, bad, "plain")
	skynet.error("PASS rcluster_malformed")
end)
