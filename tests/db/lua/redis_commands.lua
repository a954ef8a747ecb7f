-- skynet.db.redis against a real server: replies, errors, MULTI/EXEC,
-- pipelines, AUTH, SELECT, concurrent callers and pub/sub.
local skynet = require "skynet"
local redis = require "skynet.db.redis"

local port = tonumber(skynet.getenv "redis_port")
local conf = { host = "127.0.0.1", port = port, db = 0 }

local function eq(a, b, what)
	if a ~= b then
		error(string.format("FAIL %s: %s ~= %s", what, tostring(a), tostring(b)), 2)
	end
end

local function raises(pattern, f, ...)
	local ok, err = pcall(f, ...)
	if ok then
		error("FAIL expected an error matching " .. pattern, 2)
	end
	if not string.find(tostring(err), pattern) then
		error("FAIL error " .. tostring(err) .. " does not match " .. pattern, 2)
	end
	return err
end

local function basics(db)
	db:flushdb()
	eq(db:set("A", "hello"), "OK", "set")
	eq(db:get "A", "hello", "get")
	eq(db:get "nope", nil, "nil bulk")
	eq(db:del("A", "nope"), 1, "del count")
	eq(db:incr "n", 1, "incr")
	eq(db:incrby("n", 41), 42, "incrby")
	eq(db:exists "n", true, "exists")
	eq(db:exists "nope", false, "not exists")
	eq(db:sadd("S", "one"), 1, "sadd")
	eq(db:sismember("S", "one"), true, "sismember")
	eq(db:sismember("S", "two"), false, "not sismember")
	-- binary and empty values, numbers as arguments
	local bin = "a\0b\r\nc" .. string.rep("x", 100000)
	db:set("bin", bin)
	eq(db:get "bin", bin, "binary value")
	db:set("empty", "")
	eq(db:get "empty", "", "empty value")
	for i = 1, 10 do
		db:hset("D", i, i * 10)
	end
	local vals = db:hvals "D"
	eq(#vals, 10, "hvals count")
	local all = db:hgetall "D"
	eq(#all, 20, "hgetall count")
	-- a table of arguments
	eq(db:mset { "k1", "v1", "k2", "v2" }, "OK", "mset table")
	local m = db:mget("k1", "k2", "k3")
	eq(m[1], "v1", "mget 1")
	eq(m[2], "v2", "mget 2")
	eq(m[3], nil, "mget 3")
	-- an error reply is raised with the server's text
	db:set("str", "abc")
	raises("ERR value is not an integer", db.incr, db, "str")
	raises("ERR unknown command", db.nosuchcommand, db, "x")
	raises("WRONGTYPE", db.lpush, db, "str", "v")
	-- the connection still works after errors
	eq(db:get "str", "abc", "after errors")
	eq(db:ping(), "PONG", "ping")
end

local function transaction(db)
	db:set("A", "hello")
	db:set("B", "world")
	eq(db:multi(), "OK", "multi")
	eq(db:get "A", "QUEUED", "queued")
	eq(db:get "B", "QUEUED", "queued")
	local t = db:exec()
	eq(t[1], "hello", "exec 1")
	eq(t[2], "world", "exec 2")
	-- an error inside EXEC: the array carries it, and the whole is raised
	db:multi()
	db:incr "A"
	db:get "B"
	local err = raises("", db.exec, db)
	eq(type(err), "table", "exec error is the reply list")
	eq(err[2], "world", "exec error keeps the other replies")
	-- WATCH and a conflicting write: EXEC returns nil
	db:watch "A"
	local other = redis.connect(conf)
	other:set("A", "changed")
	other:disconnect()
	db:multi()
	db:set("A", "mine")
	eq(db:exec(), nil, "watched exec aborted")
	eq(db:get "A", "changed", "watched value kept")
end

local function pipelines(db)
	local resp = {}
	local r = db:pipeline({
		{ "set", "p1", "one" },
		{ "incr", "p1" },
		{ "get", "p1" },
	}, resp)
	eq(r, resp, "pipeline returns resp")
	eq(#resp, 3, "three replies")
	eq(resp[1].ok, true, "set ok")
	eq(resp[1].out, "OK", "set out")
	eq(resp[2].ok, false, "incr fails")
	eq(string.find(resp[2].out, "ERR", 1, true), 1, "incr error text")
	eq(resp[3].out, "one", "get out")
	-- without resp: the last reply
	eq(db:pipeline { { "set", "p2", 5 }, { "incrby", "p2", 5 } }, 10, "last reply")
	raises("pipeline is null", db.pipeline, db, {})
	-- a large pipeline in one write
	local ops = {}
	for i = 1, 2000 do
		ops[i] = { "rpush", "L", i }
	end
	eq(db:pipeline(ops), 2000, "2000 pushes")
	eq(db:llen "L", 2000, "list length")
end

local function concurrent(db)
	local n, done = 50, 0
	local me = coroutine.running()
	for i = 1, n do
		skynet.fork(function()
			db:set("c" .. i, i)
			local v = db:get("c" .. i)
			eq(v, tostring(i), "concurrent get " .. i)
			done = done + 1
			if done == n then
				skynet.wakeup(me)
			end
		end)
	end
	skynet.wait(me)
end

local function auth_and_select()
	-- a user with a password (ACL) and another database
	local db = redis.connect { host = "127.0.0.1", port = port, username = "alice", auth = "wonderland", db = 3 }
	db:set("in3", "yes")
	eq(db:get "in3", "yes", "db 3")
	db:disconnect()
	local db0 = redis.connect(conf)
	eq(db0:get "in3", nil, "db 0 does not see db 3")
	db0:select(3)
	eq(db0:get "in3", "yes", "select 3")
	db0:disconnect()
	-- a wrong password: the first connect fails (socketchannel's error)
	local ok, err = pcall(redis.connect, { host = "127.0.0.1", port = port, username = "alice", auth = "bad" })
	eq(ok, false, "bad password refused")
	eq(tostring(err), "[Error: socket]", "bad password error")
	-- nothing listening
	local ok2, err2 = pcall(redis.connect, { host = "127.0.0.1", port = 1 })
	eq(ok2, false, "no server")
	eq(tostring(err2), "[Error: socket]", "no server error")
end

local function pubsub(db)
	local w = redis.watch(conf)
	w:subscribe("foo", "bar")
	w:psubscribe "hello.*"
	local got = {}
	local expected = 7
	skynet.fork(function()
		while #got < expected do
			got[#got + 1] = table.pack(w:message())
		end
	end)
	-- wait until the server counts our subscriptions
	for _ = 1, 100 do
		local n = db:pubsub("numsub", "foo")
		if n[2] == 1 and db:pubsub "numpat" == 1 then
			break
		end
		skynet.sleep(1)
	end
	for i = 1, 3 do
		eq(db:publish("foo", i), 1, "one receiver")
	end
	db:publish("bar", "b")
	db:publish("hello.world", "h1")
	db:publish("hello.again", "h2")
	db:publish("other", "nobody")
	db:publish("foo", "last")
	for _ = 1, 500 do
		if #got == expected then
			break
		end
		skynet.sleep(1)
	end
	eq(got[1][1], "1", "message data")
	eq(got[1][2], "foo", "message channel")
	eq(got[1].n, 2, "message has data, channel")
	eq(got[4][1], "b", "bar")
	eq(got[5][1], "h1", "pmessage data")
	eq(got[5][2], "hello.world", "pmessage channel")
	eq(got[5][3], "hello.*", "pmessage pattern")
	eq(got[5].n, 3, "pmessage has data, channel, pattern")
	eq(got[7][1], "last", "last")
	eq(w.__subscribe.foo, true, "foo subscribed")
	eq(w.__psubscribe["hello.*"], true, "pattern subscribed")
	w:disconnect()
end

skynet.start(function()
	local db = redis.connect(conf)
	basics(db)
	transaction(db)
	pipelines(db)
	concurrent(db)
	auth_and_select()
	local ok, err = xpcall(pubsub, debug.traceback, db)
	if not ok then
		error("FAIL pubsub: " .. tostring(err))
	end
	db:disconnect()
	eq(getmetatable(db), nil, "disconnected object")
	skynet.error("PASS redis_commands")
end)
