-- The server restarts (the test stops and starts it) while this service
-- writes: writes fail with an error while it is down, the channel
-- reconnects, and every acknowledged write is there afterwards. A watch
-- connection subscribes again by itself and gets messages after.
local skynet = require "skynet"
local redis = require "skynet.db.redis"

local conf = { host = "127.0.0.1", port = tonumber(skynet.getenv "redis_port") }

skynet.start(function()
	local db = redis.connect(conf)
	db:del "acked"
	local w = redis.watch(conf)
	w:subscribe "news"
	local news = {}
	skynet.fork(function()
		while true do
			local ok, data = pcall(w.message, w)
			if ok then
				news[#news + 1] = data
			else
				skynet.sleep(5)
			end
		end
	end)

	local acked, errors, after = {}, 0, 0
	local i = 0
	while after < 50 do
		i = i + 1
		local ok, err = pcall(db.set, db, "k" .. i, i)
		if ok then
			acked[#acked + 1] = i
			if #acked == 20 then
				skynet.error("WRITING")
			end
			if errors > 0 then
				after = after + 1
			end
			skynet.sleep(1)
		else
			errors = errors + 1
			if errors == 1 then
				skynet.error("SAW ERROR " .. tostring(err))
			end
			skynet.sleep(5)
		end
		if i > 100000 then
			error("FAIL the channel never came back")
		end
	end
	for _, k in ipairs(acked) do
		local v = db:get("k" .. k)
		if v ~= tostring(k) then
			error("FAIL acknowledged write k" .. k .. " lost after the restart: " .. tostring(v))
		end
	end
	-- the watcher subscribed again after its reconnect
	for _ = 1, 200 do
		if db:publish("news", "fresh") > 0 then
			break
		end
		skynet.sleep(5)
	end
	for _ = 1, 200 do
		if news[#news] == "fresh" then
			break
		end
		skynet.sleep(5)
	end
	if news[#news] ~= "fresh" then
		error("FAIL the watcher did not get messages after the restart")
	end
	skynet.error(string.format("PASS redis_restart acked=%d errors=%d", #acked, errors))
end)
