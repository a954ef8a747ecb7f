-- DATACENTER: a hierarchical key-value store. QUERY reads a path, UPDATE sets
-- one (waking its waiters), WAIT blocks until a leaf is set; waiting on a
-- branch fails.
local skynet = require "skynet"

local root = {}
local waiters = {}   -- path tree of waiting response closures (lists at leaves)

local function query(db, key, ...)
	if db == nil or key == nil then
		return db
	end
	return query(db[key], ...)
end

local function update(db, key, value, ...)
	if select("#", ...) == 0 then
		local old = db[key]
		db[key] = value
		return old, value
	end
	if db[key] == nil then
		db[key] = {}
	end
	return update(db[key], value, ...)
end

local function wakeup(db, key1, ...)
	if key1 == nil then
		return
	end
	local q = db[key1]
	if q == nil then
		return
	end
	if q[1] ~= nil then
		-- A list of waiters at a leaf. They get the value only if the key
		-- they wait on was set itself; if it was set as a branch (keys
		-- follow below it), they fail, as skynet fails them.
		db[key1] = nil
		if select("#", ...) ~= 1 then
			for _, resp in ipairs(q) do
				resp(false)
			end
			return
		end
		return q
	end
	if select("#", ...) ~= 1 then
		return wakeup(q, ...)
	end
	local ret = q[...]
	if ret and ret[1] ~= nil then
		q[...] = nil
		return ret
	end
	-- Waiters below a key that became a leaf: fail them.
	if ret then
		q[...] = nil
		local function fail(t)
			for k, v in pairs(t) do
				if type(k) == "number" then
					v(false)
				else
					fail(v)
				end
			end
		end
		fail(ret)
	end
end

local command = {}

function command.QUERY(key, ...)
	local d = root[key]
	if d ~= nil then
		return query(d, ...)
	end
end

function command.UPDATE(...)
	local ret, value = update(root, ...)
	if ret ~= nil or value == nil then
		return ret
	end
	local q = wakeup(waiters, ...)
	if q then
		for _, resp in ipairs(q) do
			resp(true, value)
		end
	end
end

local function waitfor(db, key1, key2, ...)
	if key2 == nil then
		local q = db[key1]
		if q == nil then
			q = {}
			db[key1] = q
		elseif q[1] == nil and next(q) ~= nil then
			error("datacenter wait on a branch")
		end
		q[#q + 1] = skynet.response()
	else
		local q = db[key1]
		if q == nil then
			q = {}
			db[key1] = q
		elseif q[1] ~= nil then
			error("datacenter wait on a branch")
		end
		return waitfor(q, key2, ...)
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "WAIT" then
			local ret = command.QUERY(...)
			if ret ~= nil then
				if type(ret) == "table" then
					error("datacenter wait on a branch")
				end
				skynet.ret(skynet.pack(ret))
			else
				waitfor(waiters, ...)
			end
		else
			local f = assert(command[cmd], "unknown datacenter command")
			skynet.ret(skynet.pack(f(...)))
		end
	end)
end)
