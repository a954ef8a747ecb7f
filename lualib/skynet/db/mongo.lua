-- skynet.db.mongo for skyhold: a MongoDB client over skynet.socketchannel
-- (session mode: each request carries an id, each reply names the id it
-- answers), with skynet's API:
--   mongo.client{host, port, username, password, authdb, authmod, rs,
--                overload; skyhold's max_reply}
--   client:getDB(name) or client[name]; db[collection] or
--   db:getCollection(name); db:runCommand(cmd, v, ...), db:auth(u, p)
--   collections and cursors: skynet/db/mongo/collection.lua, cursor.lua
-- Commands go out as OP_MSG frames (skynet.mongo.driver) holding one BSON
-- document; a reply is read whole only after its length has been checked
-- against `max_reply`.
local bson = require "bson"
local socketchannel = require "skynet.socketchannel"
local driver = require "skynet.mongo.driver"
local auth = require "skynet.db.mongo.auth"
local collection = require "skynet.db.mongo.collection"

local rawget, setmetatable, tostring, tonumber, ipairs, error = rawget, setmetatable, tostring, tonumber, ipairs, error
local encode_order, decode = bson.encode_order, bson.decode

local mongo = {}
mongo.null = assert(bson.null)
mongo.maxkey = assert(bson.maxkey)
mongo.minkey = assert(bson.minkey)
mongo.type = assert(bson.type)

-- The largest reply taken unless the client's config says otherwise
-- (MongoDB's own maxMessageSizeBytes). The connection buffers at most a
-- little more than this unread.
local MAX_REPLY = 48000000
local READ_SLACK = 64 * 1024
-- What follows a reply's length: request id, response to, opcode, flags.
local HEADER = 16

-- Replies refused for their length, by every client of this service.
local rejected = 0

local client = {}
local client_meta = {
	__index = function(self, key)
		return rawget(client, key) or self:getDB(key)
	end,
	__tostring = function(self)
		local port = self.port and (":" .. tostring(self.port)) or ""
		return "[mongo client :\t" .. self.host .. port .. "]"
	end,
}

local db = {}
local db_meta = {
	__index = function(self, key)
		return rawget(db, key) or self:getCollection(key)
	end,
	__tostring = function(self)
		return "[mongo db :\t" .. self.name .. "]"
	end,
}

-- The reply reader of a client whose replies may be `limit` bytes long:
-- returns the id the reply answers, true, and the reply.
local function reply_reader(limit)
	return function(so)
		local len = driver.length(so:read(4))
		if len < HEADER then
			error(string.format("mongo: malformed reply (length %d)", len + 4), 0)
		end
		if len + 4 > limit then
			rejected = rejected + 1
			error(string.format("mongo: reply of %d bytes passes the limit of %d", len + 4, limit), 0)
		end
		local data = so:read(len)
		local ok, id, document = driver.reply(data)
		if not ok then
			error("mongo: malformed reply (no header)", 0)
		end
		return id, true, { document = document, data = data }
	end
end

local function split_addr(addr)
	local host, port = string.match(addr, "([^:]+):(.+)")
	return host, tonumber(port)
end

-- After a connection is made (and authenticated): ask who is primary, and
-- follow it, as skynet does for replica sets.
local function find_primary(c)
	local r = c:runCommand "ismaster"
	if r.ok ~= 1 then
		return
	end
	if r.hosts then
		local backup = {}
		for _, v in ipairs(r.hosts) do
			local host, port = split_addr(v)
			backup[#backup + 1] = { host = host, port = port }
		end
		c.__sock:changebackup(backup)
	end
	if r.ismaster then
		return
	end
	if r.primary then
		local host, port = split_addr(r.primary)
		c.host, c.port = host, port
		c.__sock:changehost(host, port)
	else
		error("No primary return : " .. tostring(r.me))
	end
end

-- The channel's auth function for client `c`.
local function login(c)
	local user, pass = rawget(c, "username"), rawget(c, "password")
	local method = "auth_" .. (rawget(c, "authmod") or "scram_sha1")
	local authdb = rawget(c, "authdb")
	if authdb then
		authdb = client.getDB(c, authdb)
	end
	return function()
		if user ~= nil and pass ~= nil then
			local f = auth[method]
			assert(f, "Invalid authmod")
			assert(f(authdb or c, user, pass))
		end
		find_primary(c)
	end
end

--- Connects (one attempt through `rs`, the replica set's hosts, if given).
function mongo.client(conf)
	local first, backup = conf, nil
	if conf.rs then
		first, backup = conf.rs[1], conf.rs
	end
	local c = {
		host = first.host,
		port = first.port or 27017,
		username = first.username,
		password = first.password,
		authmod = first.authmod,
		authdb = first.authdb,
		__id = 0,
	}
	local limit = conf.max_reply or MAX_REPLY
	c.__sock = socketchannel.channel {
		host = c.host,
		port = c.port,
		response = reply_reader(limit),
		auth = login(c),
		backup = backup,
		nodelay = true,
		overload = conf.overload,
		read_limit = limit + READ_SLACK,
	}
	setmetatable(c, client_meta)
	c.__sock:connect(true)
	return c
end

--- How many replies this service refused for their length (skyhold).
function mongo.rejected_replies()
	return rejected
end

function client:getDB(name)
	local d = {
		connection = self,
		name = name,
		full_name = name,
		__cmd = name .. ".$cmd",
	}
	d.database = d
	return setmetatable(d, db_meta)
end

function client:disconnect()
	local so = self.__sock
	if so then
		self.__sock = false
		so:close()
	end
end

--- The next request id (an int32, as the wire needs).
function client:genId()
	local id = (self.__id + 1) & 0x7fffffff
	self.__id = id
	return id
end

function client:runCommand(...)
	local admin = rawget(self, "admin")
	if not admin then
		admin = self:getDB "admin"
		self.admin = admin
	end
	return admin:runCommand(...)
end

function client:logout()
	return self:runCommand("logout").ok == 1
end

client.bulkWrite = collection.bulk_write

-- The command document: the command (and its value) first, then $db.
local function command(name, cmd, value, extra, ...)
	if not value then
		if extra then
			return encode_order(cmd, 1, "$db", name, "writeConcern", extra)
		end
		return encode_order(cmd, 1, "$db", name)
	end
	if extra then
		return encode_order(cmd, value, "$db", name, "writeConcern", extra, ...)
	end
	return encode_order(cmd, value, "$db", name, ...)
end

--- Runs a command on this database and returns the reply as a table.
function db:runCommand(cmd, value, ...)
	local conn = self.connection
	local id = conn:genId()
	local frame = driver.op_msg(id, 0, command(self.name, cmd, value, nil, ...))
	local reply = conn.__sock:request(frame, id)
	return decode(reply.document)
end

local unacknowledged = { w = 0 }

--- Sends a command with write concern w=0 and moreToCome: no reply.
function db:send_command(cmd, value, ...)
	local conn = self.connection
	local id = conn:genId()
	local frame = driver.op_msg(id, 2, command(self.name, cmd, value, unacknowledged, ...))
	conn.__sock:request(frame)
	return { ok = 1 }
end

function db:auth(user, pass)
	local method = "auth_" .. (rawget(self.connection, "authmod") or "scram_sha1")
	local f = auth[method]
	assert(f, "Invalid authmod")
	return f(self, user, pass)
end

db.getCollection = collection.getCollection

return mongo
