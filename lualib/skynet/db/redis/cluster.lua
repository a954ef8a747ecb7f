-- skynet.db.redis.cluster for skyhold: a Redis Cluster client over
-- skynet.db.redis, with skynet's API:
--   cluster.new(startup_nodes, {auth, db, max_connections, read_slave},
--               onmessage)
--   db:get(k), db:set(k, v), ... any command, sent to the master owning
--   the slot of its first key (argv[2]; eval/evalsha: the first of KEYS);
--   db:keyslot(key), db:flush_slots_cache(), db:close_all_connection(),
--   db:get_connection_by_slot(slot), db:get_random_connection(),
--   db:subscribe/psubscribe/... (messages go to onmessage).
-- The slot map comes from CLUSTER SLOTS. A MOVED reply points the slot at
-- the node it names and has the map fetched again before the next command;
-- an ASK reply sends ASKING and the command, together, to the node it names
-- (once). At most 16 redirections per command.
local skynet = require "skynet"
local redis = require "skynet.db.redis"
local crc16 = require "skynet.db.redis.crc16"

local tostring, tonumber, pairs, ipairs, pcall, error, setmetatable = tostring, tonumber, pairs, ipairs, pcall, error, setmetatable
local sfind, ssub, smatch, sformat, slower = string.find, string.sub, string.match, string.format, string.lower
local tpack, tunpack = table.pack, table.unpack

local SLOTS = 16384
local MAX_REDIRECTIONS = 16

local M = {}

local cluster = {}
local meta = {}

local function node_name(node)
	return sformat("%s:%d", node.host, node.port)
end

--- A client for the cluster reachable through `startup_nodes` (a list of
--- {host, port}, or one such table); the slot map is fetched at once.
function M.new(startup_nodes, opt, onmessage)
	if #startup_nodes == 0 then
		startup_nodes = { startup_nodes }
	end
	opt = opt or {}
	local self = setmetatable({
		startup_nodes = startup_nodes,
		max_connections = opt.max_connections or 256,
		connections = {},
		opt = opt,
		refresh_table_asap = false,
		slots = {},
		nodes = {},
		evicted = 0, -- connections closed to stay within max_connections
		__onmessage = onmessage,
		__watching = {},
		__opening = {}, -- node name -> coroutines waiting for its connection
	}, meta)
	self:initialize_slots_cache()
	return self
end

local function link_conf(self, node)
	return { host = node.host, port = node.port, auth = self.opt.auth, db = self.opt.db or 0 }
end

function cluster:get_redis_link(node)
	return redis.connect(link_conf(self, node))
end

function cluster:set_node_name(node)
	if not node.name then
		node.name = node_name(node)
	end
end

-- A node of a CLUSTER SLOTS entry ({ip, port, id...}).
local function slot_node(self, entry)
	local host, port = entry[1], tonumber(entry[2])
	assert(host and port, "redis cluster: malformed CLUSTER SLOTS reply")
	local node = { host = host, port = port }
	self:set_node_name(node)
	return node
end

-- Reads the slot map from `conn`: a new slots table and node list.
local function read_slot_map(self, conn)
	local slots, nodes = {}, {}
	for _, range in ipairs(conn:cluster "slots") do
		local master = slot_node(self, range[3])
		master.slaves = {}
		for i = 4, #range do
			master.slaves[#master.slaves + 1] = slot_node(self, range[i])
		end
		nodes[#nodes + 1] = master
		local first, last = tonumber(range[1]), tonumber(range[2])
		assert(first and last and first >= 0 and last < SLOTS, "redis cluster: malformed slot range")
		for slot = first, last do
			slots[slot] = master
		end
	end
	return slots, nodes
end

--- Fetches the slot map from the first startup node that answers.
function cluster:initialize_slots_cache()
	for _, node in ipairs(self.startup_nodes) do
		local ok, slots, nodes = pcall(function()
			return read_slot_map(self, self:get_connection(node))
		end)
		if ok then
			self.slots, self.nodes = slots, nodes
			self.refresh_table_asap = false
			return
		end
	end
end

--- Forgets the slot map (the next commands go to random nodes and are
--- redirected).
function cluster:flush_slots_cache()
	self.slots = {}
end

--- The hash slot of `key`: of the part between the first { and the next
--- }, when that part is not empty.
function cluster:keyslot(key)
	key = tostring(key)
	local open = sfind(key, "{", 1, true)
	if open then
		local close = sfind(key, "}", open + 1, true)
		if close and close > open + 1 then
			key = ssub(key, open + 1, close - 1)
		end
	end
	return crc16(key) % SLOTS
end

local no_key = { info = true, multi = true, exec = true, slaveof = true, config = true, shutdown = true }

--- The key that decides where a command goes (nil: it cannot be sent to
--- a cluster).
function cluster:get_key_from_command(cmd, argv)
	if no_key[cmd] then
		return nil
	end
	if cmd == "eval" or cmd == "evalsha" then
		local numkeys = tonumber(argv[3]) or 0
		local first
		for i = 4, 3 + numkeys do
			local slot = self:keyslot(argv[i])
			if not first then
				first = slot
			elseif first ~= slot then
				error(sformat("%s - all keys must map to the same key slot", cmd))
			end
		end
		return argv[4]
	end
	return argv[2]
end

--- Closes one cached connection when `max_connections` are open.
function cluster:close_existing_connection()
	local n = 0
	for _ in pairs(self.connections) do
		n = n + 1
	end
	if n >= self.max_connections then
		local name, conn = next(self.connections)
		self.connections[name] = nil
		self.evicted = self.evicted + 1
		pcall(conn.disconnect, conn)
	end
end

function cluster:close_all_connection()
	local all = self.connections
	self.connections = {}
	for _, conn in pairs(all) do
		pcall(conn.disconnect, conn)
	end
end

-- Runs open() for `name` once at a time: callers that come while it runs
-- wait and get its outcome.
local function once(self, name, open)
	local waiting = self.__opening[name]
	if waiting then
		local co = coroutine.running()
		waiting[#waiting + 1] = co
		skynet.wait(co)
		local r = waiting.result
		return tunpack(r, 1, r.n)
	end
	waiting = {}
	self.__opening[name] = waiting
	local r = tpack(pcall(open))
	self.__opening[name] = nil
	waiting.result = r
	for _, co in ipairs(waiting) do
		skynet.wakeup(co)
	end
	return tunpack(r, 1, r.n)
end

--- The (cached) connection to `node`.
function cluster:get_connection(node)
	self:set_node_name(node)
	local name = node.name
	local conn = self.connections[name]
	if conn then
		return conn
	end
	local ok, c = once(self, name, function()
		local cached = self.connections[name]
		if cached then
			return cached
		end
		self:close_existing_connection()
		local new = self:get_redis_link(node)
		self.connections[name] = new
		return new
	end)
	assert(ok, c)
	return c
end

--- A connection to a random known master that answers PING.
function cluster:get_random_connection()
	local order = {}
	for i = 1, #self.nodes do
		order[i] = i
	end
	for i = 1, #order do
		local j = math.random(i, #order)
		order[i], order[j] = order[j], order[i]
	end
	for _, i in ipairs(order) do
		local node = self.nodes[i]
		local ok, conn = pcall(self.get_connection, self, node)
		if ok then
			local alive, pong = pcall(conn.ping, conn)
			if alive and pong == "PONG" then
				return conn
			end
			self.connections[node.name] = nil
			pcall(conn.disconnect, conn)
		end
	end
	error "Can't reach a single startup node."
end

--- The connection to the master of `slot` (a random node when the slot is
--- unknown; with `read_slave`, a replica when the master is unreachable).
function cluster:get_connection_by_slot(slot)
	local node = self.slots[slot]
	if not node then
		return self:get_random_connection()
	end
	local ok, conn = pcall(self.get_connection, self, node)
	if ok then
		return conn
	end
	local slaves = node.slaves
	if self.opt.read_slave and slaves and #slaves > 0 then
		local ok2, sconn = pcall(self.get_connection, self, slaves[math.random(1, #slaves)])
		if ok2 then
			sconn:readonly()
			return sconn
		end
	end
	return self:get_random_connection()
end

-- A redirection in error text: kind ("MOVED"/"ASK"), slot, node.
local function redirection(err)
	err = smatch(err, "^.-:%d+: (.*)$") or err
	local kind, slot, host, port = smatch(err, "^(%u+) (%d+) (.+):(%d+)$")
	if kind ~= "MOVED" and kind ~= "ASK" then
		return nil, err
	end
	slot, port = tonumber(slot), tonumber(port)
	if slot >= SLOTS or port > 65535 then
		return nil, "redis cluster: malformed redirection: " .. err
	end
	return kind, slot, { host = host, port = port }
end

local pubsub = { subscribe = true, unsubscribe = true, psubscribe = true, punsubscribe = true }

--- Sends a command (name, args...) to the node owning its key.
function cluster:call(...)
	local argv = tpack(...)
	local cmd = slower(argv[1])
	local key = self:get_key_from_command(cmd, argv)
	if not key then
		error("No way to dispatch this command to Redis Cluster: " .. tostring(argv[1]))
	end
	if pubsub[cmd] then
		local conn = self:get_watch_connection_by_slot(self:keyslot(key))
		return conn[cmd](conn, tunpack(argv, 2, argv.n))
	end
	if self.refresh_table_asap then
		self:initialize_slots_cache()
	end
	local slot = self:keyslot(key)
	local asking, random, err = nil, false, nil
	for ttl = MAX_REDIRECTIONS - 1, 0, -1 do
		local conn
		if asking then
			conn = self:get_connection(asking)
		elseif random then
			conn = self:get_random_connection()
			random = false
		else
			conn = self:get_connection_by_slot(slot)
		end
		local r
		if asking then
			asking = nil
			-- ASKING and the command in one write, read in turn
			r = tpack(pcall(conn.pipeline, conn, { { "asking" }, { tunpack(argv, 1, argv.n) } }))
		else
			r = tpack(pcall(conn[cmd], conn, tunpack(argv, 2, argv.n)))
		end
		if r[1] then
			return tunpack(r, 2, r.n)
		end
		err = tostring(r[2])
		if err == "[Error: socket]" then
			random = true
			if ttl < MAX_REDIRECTIONS / 2 then
				skynet.sleep(10)
			end
		else
			local kind, newslot, node = redirection(err)
			if not kind then
				error(newslot, 0)
			end
			self:set_node_name(node)
			if kind == "ASK" then
				asking = node
			else
				-- the map has changed: fetch it before the next command
				self.refresh_table_asap = true
				local old = self.slots[newslot]
				node.slaves = old and old.slaves
				self.slots[newslot] = node
			end
		end
	end
	error(sformat("Too many Cluster redirections?,maybe node is disconnected (last error: %q)", err))
end

function cluster:get_watch_connection_by_slot(slot)
	if not self.slots[slot] then
		self:initialize_slots_cache()
	end
	return self:get_watch_connection(assert(self.slots[slot], "redis cluster: slot map unknown"))
end

--- The (cached) pub/sub connection to `node`; its messages go to
--- onmessage(data, channel, pattern) until it is replaced.
function cluster:get_watch_connection(node)
	local name = node.name
	local ok, conn = once(self, "watch " .. name, function()
		local w = self.__watching[name]
		if w then
			return w
		end
		w = redis.watch(link_conf(self, node))
		self.__watching[name] = w
		local onmessage = self.__onmessage
		skynet.fork(function()
			while self.__watching[name] == w do
				local got, data, channel, pattern = pcall(w.message, w)
				if got then
					if data and onmessage then
						pcall(onmessage, data, channel, pattern)
					end
				else
					skynet.sleep(10)
				end
			end
		end)
		return w
	end)
	assert(ok, conn)
	return conn
end

-- Any other name is a command.
meta.__index = function(_, name)
	local f = cluster[name]
	if f == nil then
		f = function(self, ...)
			return self:call(name, ...)
		end
		cluster[name] = f
	end
	return f
end

return M
