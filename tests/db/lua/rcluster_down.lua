-- One master of three stops (the test stops it, then starts it again):
-- a command for its slots fails after a bounded number of tries, the other
-- masters keep serving, and when it is back the command works again.
local skynet = require "skynet"
local cluster = require "skynet.db.redis.cluster"

local ports = {}
for p in string.gmatch(skynet.getenv "rcluster_ports", "%d+") do
	ports[#ports + 1] = tonumber(p)
end

local function check(cond, what)
	if not cond then
		error("FAIL " .. what, 2)
	end
end

-- A key held by the master on `port`, and one held by another master.
local function keys(db, port)
	local mine, other
	for i = 1, 1000 do
		local k = "down:" .. i
		if db.slots[db:keyslot(k)].port == port then
			mine = mine or k
		else
			other = other or k
		end
		if mine and other then
			return mine, other
		end
	end
end

skynet.start(function()
	local db = cluster.new({ { host = "127.0.0.1", port = ports[1] } })
	local k, other = keys(db, ports[3])
	check(db:set(k, "kept") == "OK" and db:set(other, "there") == "OK", "writes")
	skynet.error("READY " .. k .. " " .. other)
	local err
	for _ = 1, 300 do
		local ok, e = pcall(db.get, db, k)
		if not ok then
			err = tostring(e)
			break
		end
		skynet.sleep(10)
	end
	check(err and string.find(err, "Too many Cluster redirections", 1, true), "the error: " .. tostring(err))
	check(db:get(other) == "there", "the other masters serve")
	skynet.error("SAW DOWN " .. err)
	local v
	for _ = 1, 300 do
		local ok, got = pcall(db.get, db, k)
		if ok then
			v = got
			break
		end
		skynet.sleep(10)
	end
	-- no --save and no AOF: the restarted master starts empty
	check(v == nil or v == "kept", "back: " .. tostring(v))
	check(db:set(k, "again") == "OK" and db:get(k) == "again", "writes after the restart")
	skynet.error("PASS rcluster_down")
end)
