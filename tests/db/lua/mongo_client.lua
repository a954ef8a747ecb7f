-- skynet.db.mongo against the test's loopback peer (tests/db/mongo_peer.rs):
-- SCRAM-SHA-1 login, writes acknowledged and not, findOne, cursors over
-- several batches, count, close, updates, deletes, findAndModify, indexes,
-- error replies, a refused login, and a reconnect after the peer hangs up.
-- The test then checks the bytes the peer received.
local skynet = require "skynet"
local mongo = require "skynet.db.mongo"
local bson = require "bson"

local port = tonumber(skynet.getenv "mongo_port")

local function check(cond, what)
	if not cond then
		error("FAIL " .. what, 2)
	end
end

local function client(password)
	return mongo.client { host = "127.0.0.1", port = port, username = "admin", password = password or "123456",
		authdb = "admin" }
end

local function all(cursor)
	local list = {}
	while cursor:hasNext() do
		list[#list + 1] = cursor:next()
	end
	return list
end

skynet.start(function()
	local c = client()
	check(tostring(c) == "[mongo client :\t127.0.0.1:" .. port .. "]", "tostring " .. tostring(c))
	local db = c.game
	check(db == c.game or db.name == "game", "client[name] is a database")
	local users = db.users
	check(users.full_name == "game.users" and db.users == users, "collections")
	check(db.users.sub.full_name == "game.users.sub", "a sub-collection")

	check(db:runCommand("ping").ok == 1, "ping")
	users:drop()
	local ok, err, r = users:safe_insert { name = "solo" }
	check(ok and err == nil and r.n == 1, "safe_insert")
	ok, err = users:safe_insert { name = "dup" }
	check(ok == false and string.find(err, "E11000 duplicate key error", 1, true), "duplicate: " .. tostring(err))
	users:insert { name = "b", lv = 2 }
	users:batch_insert { { name = "c", lv = 3 }, { name = "d", lv = 4 }, { name = "e", lv = 5 } }

	local b = users:findOne { name = "b" }
	check(b and b.lv == 2 and bson.type(b._id) == "objectid", "findOne after an unacknowledged insert")
	check(users:findOne { name = "nobody" } == nil, "findOne of nothing")

	local list = all(users:find({}, { name = 1 }):sort({ lv = -1 }, { name = 1 }))
	check(#list == 5 and list[1].name == "solo" and list[5].name == "e", "find over three batches: " .. #list)
	check(users:find():count() == 5, "count")
	check(users:find():skip(1):limit(2):count(true) == 2, "count with skip and limit")
	list = all(users:find():skip(1):limit(3))
	check(#list == 3 and list[1].name == "b", "skip and limit")
	list = all(users:find():batchSize(4))
	check(#list == 5, "batchSize")

	local cur = users:find()
	check(cur:hasNext() and cur:next().name == "solo", "first of a cursor")
	cur:close()
	check(not pcall(users:find().next, users:find()), "next before hasNext raises")

	ok, err, r = users:safe_update({ name = "b" }, { ["$set"] = { lv = 20 } })
	check(ok and r.n == 1, "safe_update")
	users:update({ name = "c" }, { ["$inc"] = { lv = 10 } })
	check(users:findOne({ name = "c" }).lv == 13, "update w=0 then read")
	ok, err, r = users:safe_delete({ name = "e" }, true)
	check(ok and r.n == 1, "safe_delete")
	users:delete { name = "d" }
	check(users:find():count() == 3, "count after deletes")

	r = users:findAndModify { query = { name = "b" }, update = { ["$inc"] = { lv = 1 } } }
	check(r.ok == 1 and r.value.lv == 21, "findAndModify")
	check(users:createIndex({ lv = 1 }, { unique = true }).ok == 1, "createIndex, old form")
	check(users:createIndex({ { lv = 1 }, { name = -1 }, unique = true }).ok == 1, "createIndex")

	check(users:aggregate({ { ["$match"] = { name = "b" } } }):count() == 1, "aggregate count")
	list = all(users:aggregate({ { ["$match"] = {} } }, { cursor = {} }):skip(1):limit(5))
	check(#list == 2 and list[1].name == "b", "aggregate with skip and limit")
	ok, err, r = c:bulkWrite {
		{ op = "insert", collection = "game.users", insert = { name = "bw" } },
		{ op = "delete", collection = "game.users", filter = { name = "c" } },
	}
	check(ok and r.nInserted == 1 and r.nDeleted == 1, "bulkWrite: " .. tostring(err))
	check(users:findOne({ name = "bw" }) and not users:findOne { name = "c" }, "bulkWrite applied")
	ok, err = users:safe_batch_insert { { name = "f" }, { name = "g" } }
	check(ok, "safe_batch_insert")
	check(c.admin:auth("admin", "123456") == true, "db:auth")
	check(c.admin:auth("admin", "nope") == false, "db:auth with a wrong password")
	check(c:logout() == true, "logout")

	r = db:runCommand "nosuch"
	check(r.ok == 0 and r.errmsg == "no such command: 'nosuch'", "an error reply")

	local refused = pcall(client, "wrong")
	check(not refused, "a wrong password is refused")

	-- the peer hangs up: the request in flight fails, the next one
	-- connects and logs in again
	local hung, herr = pcall(db.runCommand, db, "hangup")
	check(not hung, "hangup raised")
	skynet.error("hangup: " .. tostring(herr))
	check(users:findOne({ name = "solo" }).name == "solo", "after the reconnect")

	skynet.error("PASS mongo_client")
end)
