-- skynet.db.redis for skyhold: a Redis client over skynet.socketchannel,
-- with skynet's API. Every command is a method (`db:get "k"`,
-- `db:hset(k, f, v)`, `db:multi()`...) sent as a RESP array; a reply is
-- returned as a Lua value (status and bulk strings as strings, integers as
-- numbers, arrays as lists, a nil bulk as nil); an error reply is raised.
-- `redis.watch` opens a connection for SUBSCRIBE/PSUBSCRIBE and `message`.
local socketchannel = require "skynet.socketchannel"

local tostring, tonumber, type, select, pairs, ipairs = tostring, tonumber, type, select, pairs, ipairs
local setmetatable, assert = setmetatable, assert
local sbyte, ssub, supper = string.byte, string.sub, string.upper

local redis = {}

-- Replies -----------------------------------------------------------------

-- The largest bulk string a reply may carry unless the connection's config
-- says otherwise (Redis's own proto-max-bulk-len); the connection's read
-- buffer is bounded a little above it.
local MAX_BULK = 512 * 1024 * 1024
local LINE_SLACK = 64 * 1024

local function malformed(what, line)
	if #line > 32 then
		line = ssub(line, 1, 32) .. "..."
	end
	error(string.format("redis: malformed reply (%s): %q", what, line), 0)
end

local read_reply

-- Readers by the reply's first byte. Each returns ok, value.
local by_kind = {}

by_kind[43] = function(_, line) -- '+': status
	return true, line
end

by_kind[45] = function(_, line) -- '-': error
	return false, line
end

by_kind[58] = function(_, line) -- ':': integer
	local n = tonumber(line)
	if n == nil then
		malformed("integer", line)
	end
	return true, n
end

by_kind[36] = function(so, line) -- '$': bulk string
	local len = math.tointeger(tonumber(line))
	if len == nil then
		malformed("bulk length", line)
	end
	if len < 0 then
		return true, nil
	end
	local limit = (so.read_limit or (MAX_BULK + LINE_SLACK)) - LINE_SLACK
	if len > limit then
		error(string.format("redis: bulk reply of %d bytes passes the limit of %d", len, limit), 0)
	end
	local body = so:read(len + 2)
	if ssub(body, -2) ~= "\r\n" then
		malformed("bulk end", ssub(body, -2))
	end
	return true, ssub(body, 1, -3)
end

by_kind[42] = function(so, line) -- '*': array
	local n = math.tointeger(tonumber(line))
	if n == nil then
		malformed("array length", line)
	end
	if n < 0 then
		return true, nil
	end
	local list = {}
	local all_ok = true
	for i = 1, n do
		local ok, v = read_reply(so)
		if not ok then
			all_ok = false
		end
		list[i] = v
	end
	return all_ok, list
end

function read_reply(so)
	local line = so:readline "\r\n"
	local kind = by_kind[sbyte(line)]
	if not kind then
		malformed("type", line)
	end
	return kind(so, ssub(line, 2))
end

local function read_boolean(so)
	local ok, v = read_reply(so)
	return ok, v ~= 0
end

-- Requests ------------------------------------------------------------------

-- Cached pieces of the RESP encoding, weak so they do not grow for ever.
local function cache(make)
	return setmetatable({}, {
		__mode = "kv",
		__index = function(t, k)
			local v = make(k)
			t[k] = v
			return v
		end,
	})
end

local len_header = cache(function(n) return "\r\n$" .. n .. "\r\n" end)
local cmd_part = cache(function(cmd) return "\r\n$" .. #cmd .. "\r\n" .. supper(cmd) end)
local count_part = cache(function(n) return "*" .. n end)
local bare_cmd = cache(function(cmd) return "*1" .. cmd_part[cmd] .. "\r\n" end)

-- The request for `cmd` with arguments `args` (nil, a list with an optional
-- `n`, or a single value).
local function compose(cmd, args)
	if args == nil then
		return bare_cmd[cmd]
	end
	if type(args) ~= "table" then
		local s = tostring(args)
		return { "*2", cmd_part[cmd], len_header[#s], s, "\r\n" }
	end
	local n = args.n or #args
	local out = { count_part[n + 1], cmd_part[cmd] }
	for i = 1, n do
		local v = args[i]
		if v == nil then
			out[#out + 1] = "\r\n$-1"
		else
			local s = tostring(v)
			out[#out + 1] = len_header[#s]
			out[#out + 1] = s
		end
	end
	out[#out + 1] = "\r\n"
	return out
end

-- Appends the request for `list` (command first) to `out`.
local function compose_list(out, list)
	out[#out + 1] = count_part[#list]
	for _, v in ipairs(list) do
		local s = tostring(v)
		out[#out + 1] = len_header[#s]
		out[#out + 1] = s
	end
	out[#out + 1] = "\r\n"
	return out
end

-- The auth function for a channel: AUTH (with a username if given) and
-- SELECT, when configured.
local function login(conf)
	local password, db = conf.auth, conf.db
	if password == nil and db == nil then
		return nil
	end
	if password and conf.username then
		password = { conf.username, password }
	end
	return function(so)
		if password then
			so:request(compose("AUTH", password), read_reply)
		end
		if db then
			so:request(compose("SELECT", db), read_reply)
		end
	end
end

-- Commands ------------------------------------------------------------------

local command = {}
local meta = { __index = command } -- the channel is closed by disconnect, not by __gc

setmetatable(command, {
	__index = function(t, name)
		local cmd = supper(name)
		local f = function(self, v, ...)
			local args
			if v == nil then
				args = nil
			elseif type(v) == "table" then
				args = v
			else
				args = table.pack(v, ...)
			end
			return self[1]:request(compose(cmd, args), read_reply)
		end
		t[name] = f
		return f
	end,
})

--- Connects to the server of `conf` (host, port = 6379, auth, username, db,
--- overload; skyhold's max_bulk, the largest bulk reply taken, 512 MiB
--- unless set); raises if the first attempt fails.
function redis.connect(conf)
	local ch = socketchannel.channel {
		host = conf.host,
		port = conf.port or 6379,
		auth = login(conf),
		nodelay = true,
		overload = conf.overload,
		read_limit = (conf.max_bulk or MAX_BULK) + LINE_SLACK,
	}
	ch:connect(true)
	return setmetatable({ ch }, meta)
end

--- Closes the connection; the object is unusable afterwards.
function command:disconnect()
	self[1]:close()
	setmetatable(self, nil)
end

--- EXISTS as a boolean.
function command:exists(key)
	return self[1]:request(compose("EXISTS", key), read_boolean)
end

--- SISMEMBER as a boolean.
function command:sismember(key, value)
	return self[1]:request(compose("SISMEMBER", table.pack(key, value)), read_boolean)
end

--- Sends the commands of `ops` (each a list, command first) in one write.
--- With `resp`, every reply is appended to it as {ok = , out = } and resp is
--- returned; otherwise the last reply is returned (or raised).
function command:pipeline(ops, resp)
	assert(ops and #ops > 0, "pipeline is null")
	local req = {}
	for _, op in ipairs(ops) do
		compose_list(req, op)
	end
	local count = #ops
	local reader
	if resp then
		reader = function(so)
			for _ = 1, count do
				local ok, out = read_reply(so)
				resp[#resp + 1] = { ok = ok, out = out }
			end
			return true, resp
		end
	else
		reader = function(so)
			local ok, out
			for _ = 1, count do
				ok, out = read_reply(so)
			end
			return ok, out
		end
	end
	return self[1]:request(req, reader)
end

-- Watch mode: pub/sub -------------------------------------------------------

local watch = {}
-- (a watch's channel closes itself when collected, as every channel does)
local watch_meta = { __index = watch }

-- Logs in, then subscribes again to everything subscribed (after a
-- reconnect the subscriptions come back).
local function watch_login(conf, obj)
	local auth = login(conf)
	return function(so)
		if auth then
			auth(so)
		end
		for pattern in pairs(obj.__psubscribe) do
			so:request(compose("PSUBSCRIBE", pattern))
		end
		for chan in pairs(obj.__subscribe) do
			so:request(compose("SUBSCRIBE", chan))
		end
	end
end

--- A connection for pub/sub: subscribe/psubscribe/unsubscribe/punsubscribe
--- and `message`.
function redis.watch(conf)
	local obj = { __subscribe = {}, __psubscribe = {} }
	local ch = socketchannel.channel {
		host = conf.host,
		port = conf.port or 6379,
		auth = watch_login(conf, obj),
		nodelay = true,
		read_limit = (conf.max_bulk or MAX_BULK) + LINE_SLACK,
	}
	obj.__sock = ch
	ch:connect(true)
	return setmetatable(obj, watch_meta)
end

--- Closes the watch connection.
function watch:disconnect()
	self.__sock:close()
	setmetatable(self, nil)
end

for _, name in ipairs { "subscribe", "psubscribe", "unsubscribe", "punsubscribe" } do
	local cmd = supper(name)
	watch[name] = function(self, ...)
		local ch = self.__sock
		for i = 1, select("#", ...) do
			ch:request(compose(cmd, (select(i, ...))))
		end
	end
end

--- Waits for the next published message: returns data, channel for a
--- SUBSCRIBE match, and data, channel, pattern for a PSUBSCRIBE match.
--- Subscription confirmations update the watched sets.
function watch:message()
	local ch = self.__sock
	while true do
		local reply = ch:response(read_reply)
		local kind, chan, a, b = reply[1], reply[2], reply[3], reply[4]
		if kind == "message" then
			return a, chan
		elseif kind == "pmessage" then
			return b, a, chan
		elseif kind == "subscribe" then
			self.__subscribe[chan] = true
		elseif kind == "psubscribe" then
			self.__psubscribe[chan] = true
		elseif kind == "unsubscribe" then
			self.__subscribe[chan] = nil
		elseif kind == "punsubscribe" then
			self.__psubscribe[chan] = nil
		end
	end
end

return redis
