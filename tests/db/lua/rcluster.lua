-- skynet.db.redis.cluster against three real masters: routing by slot,
-- hash tags, MOVED (and the slot map fetched again), ASK during a slot
-- migration, a slot moved for good, eval, pipelines, pub/sub, the
-- connection limit, and the commands that cannot be routed.
local skynet = require "skynet"
local cluster = require "skynet.db.redis.cluster"
local crc16 = require "skynet.db.redis.crc16"

local function check(cond, what)
	if not cond then
		error("FAIL " .. what, 2)
	end
end

local function raises(pattern, f, ...)
	local ok, err = pcall(f, ...)
	check(not ok, "no error, wanted " .. pattern)
	check(string.find(tostring(err), pattern, 1, true), "error " .. tostring(err) .. ", wanted " .. pattern)
end

local ports = {}
for p in string.gmatch(skynet.getenv "rcluster_ports", "%d+") do
	ports[#ports + 1] = tonumber(p)
end

local function other_than(db, node)
	for _, n in ipairs(db.nodes) do
		if n.name ~= node.name then
			return n
		end
	end
end

local function keyslots(db)
	check(crc16 "123456789" == 0x31C3, "crc16 check value")
	local conn = db:get_random_connection()
	for _, k in ipairs { "foo", "bar", "{user1000}.following", "{user1000}.followers", "a{}b", "{}x{y}",
		"x{y}{z}", "hello", 123, "\0\255bin" } do
		local mine, theirs = db:keyslot(k), conn:cluster("keyslot", k)
		check(mine == theirs, string.format("keyslot(%q) = %d, server says %d", tostring(k), mine, theirs))
	end
	check(db:keyslot "{user1000}.a" == db:keyslot "{user1000}.b", "hash tags")
end

local function commands(db)
	for i = 1, 200 do
		check(db:set("key" .. i, i) == "OK", "set key" .. i)
	end
	for i = 1, 200 do
		check(db:get("key" .. i) == tostring(i), "get key" .. i)
	end
	-- the keys are spread over every master
	for _, node in ipairs(db.nodes) do
		check(db:get_connection(node):dbsize() > 10, "keys on " .. node.name)
	end
	db:del "list"
	db:rpush("list", 1, 2, 3)
	local list = db:lrange("list", 0, -1)
	check(#list == 3 and list[3] == "3", "lrange")
	db:hmset("map", "k1", 1, "k2", 2)
	check(#db:hgetall "map" == 4, "hgetall")
	raises("WRONGTYPE", db.incr, db, "list")
	raises("No way to dispatch this command to Redis Cluster: info", db.info, db)
	check(db:eval("return redis.call('get', KEYS[1])", 1, "key7") == "7", "eval")
	raises("eval - all keys must map to the same key slot", db.eval, db, "return 1", 2, "foo", "bar")
	local conn = db:get_connection_by_slot(db:keyslot "{foo}")
	local r = conn:pipeline({
		{ "del", "{foo}h" },
		{ "hmset", "{foo}h", 1, 1, 2, 2 },
		{ "hgetall", "{foo}h" },
	}, {})
	check(r[1].ok and r[2].ok and #r[3].out == 4, "pipeline on one slot")
end

local function moved(db)
	local s = db:keyslot "A"
	local right = db.slots[s]
	db.slots[s] = other_than(db, right)
	check(db:set("A", "moved") == "OK", "set through MOVED")
	check(db.refresh_table_asap == true, "MOVED asks for a new slot map")
	check(db.slots[s].name == right.name, "MOVED points the slot at its node")
	check(db:get "A" == "moved", "get after MOVED")
	check(db.refresh_table_asap == false, "the slot map was fetched again")
	-- a forgotten map: commands go to random nodes and are redirected
	db:flush_slots_cache()
	for i = 1, 30 do
		check(db:get("key" .. i) == tostring(i), "get with no slot map")
	end
end

-- A key whose slot holds no keys yet, on `node`'s side.
local function empty_slot_key(db)
	for i = 1, 1000 do
		local k = "mig:" .. i
		local s = db:keyslot(k)
		local conn = db:get_connection(db.slots[s])
		if conn:cluster("countkeysinslot", s) == 0 then
			return k, s
		end
	end
	error "FAIL no empty slot"
end

local function ask(db)
	db:initialize_slots_cache()
	local key, s = empty_slot_key(db)
	local src = db.slots[s]
	local dst = other_than(db, src)
	local src_c, dst_c = db:get_connection(src), db:get_connection(dst)
	local src_id, dst_id = src_c:cluster "myid", dst_c:cluster "myid"
	check(dst_c:cluster("setslot", s, "importing", src_id) == "OK", "importing")
	check(src_c:cluster("setslot", s, "migrating", dst_id) == "OK", "migrating")
	raises("ASK " .. s, src_c.set, src_c, key, "x")
	check(db:set(key, "asked") == "OK", "set through ASK")
	check(db.refresh_table_asap == false and db.slots[s] == src, "ASK leaves the slot map alone")
	check(db:get(key) == "asked", "get through ASK")
	check(dst_c:pipeline { { "asking" }, { "get", key } } == "asked", "the key is on the importing node")
	-- the migration ends: the slot is dst's everywhere
	check(dst_c:cluster("setslot", s, "node", dst_id) == "OK", "setslot on the importing node")
	for _, node in ipairs(db.nodes) do
		if node.name ~= dst.name then
			db:get_connection(node):cluster("setslot", s, "node", dst_id)
		end
	end
	check(db:get(key) == "asked", "get after the slot moved")
	check(db.refresh_table_asap == true, "MOVED after the migration")
	db:get "A"
	check(db.slots[s].name == dst.name, "the new slot map has the moved slot")
end

local function pubsub(db, got)
	db:subscribe "world"
	db:psubscribe "{tag}*team"
	for _ = 1, 100 do
		db:publish("world", "hello,world")
		db:publish("{tag}1team", "hello,1team")
		local w, t
		for _, m in ipairs(got) do
			w = w or (m[1] == "hello,world" and m[2] == "world")
			t = t or (m[1] == "hello,1team" and m[2] == "{tag}1team" and m[3] == "{tag}*team")
		end
		if w and t then
			return
		end
		skynet.sleep(5)
	end
	error "FAIL no published message came"
end

local function limit()
	local db = cluster.new({ host = "127.0.0.1", port = ports[3] }, { max_connections = 2 })
	for i = 1, 50 do
		check(db:get("key" .. i) == tostring(i), "get with two connections")
		local n = 0
		for _ in pairs(db.connections) do
			n = n + 1
		end
		check(n <= 2, n .. " connections open, the limit is 2")
	end
	check(db.evicted > 0, "connections were closed for the limit")
	db:close_all_connection()
	check(next(db.connections) == nil, "close_all_connection")
	check(db:get "key1" == "1", "reconnect after close_all_connection")
end

skynet.start(function()
	local got = {}
	local db = cluster.new({ { host = "127.0.0.1", port = ports[1] }, { host = "127.0.0.1", port = ports[2] } },
		{ read_slave = true, db = 0 }, function(data, channel, pattern)
			got[#got + 1] = { data, channel, pattern }
		end)
	check(#db.nodes == 3, "three masters in the slot map")
	keyslots(db)
	commands(db)
	moved(db)
	ask(db)
	pubsub(db, got)
	limit()
	skynet.error("PASS rcluster")
end)
