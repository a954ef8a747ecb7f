-- Replies a real server would never send, from a fake one: each raises a
-- clear error, and the next request reconnects and works.
local skynet = require "skynet"
local redis = require "skynet.db.redis"

local conf = { host = "127.0.0.1", port = tonumber(skynet.getenv "redis_port"), max_bulk = 1024 * 1024 }

local cases = {
	{ "badtype", "redis: malformed reply %(type%)" },
	{ "badlen", "redis: malformed reply %(bulk length%)" },
	{ "badint", "redis: malformed reply %(integer%)" },
	{ "badend", "redis: malformed reply %(bulk end%)" },
	{ "huge", "redis: bulk reply of 999999999 bytes passes the limit of 1048576" },
	{ "hugearray", "redis: bulk reply of 99999999999 bytes passes the limit" },
	{ "endless", "%[Error: socket%]" },
}

skynet.start(function()
	local db = redis.connect(conf)
	if db:get "good" ~= "fine" then
		error "FAIL a good reply"
	end
	for _, c in ipairs(cases) do
		local ok, err = pcall(db.get, db, c[1])
		if ok then
			error("FAIL " .. c[1] .. " was taken")
		end
		if not string.find(tostring(err), c[2]) then
			error("FAIL " .. c[1] .. ": " .. tostring(err))
		end
		skynet.error("rejected " .. c[1] .. ": " .. tostring(err))
		local v = db:get "good"
		if v ~= "fine" then
			error("FAIL no reconnect after " .. c[1])
		end
	end
	local kb = collectgarbage "count"
	if kb > 64 * 1024 then
		error("FAIL memory grew to " .. kb .. " KiB")
	end
	skynet.error("PASS redis_malformed")
end)
