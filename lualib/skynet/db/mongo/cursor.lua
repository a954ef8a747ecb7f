-- skynet.db.mongo's cursors: collection:find(...) and :aggregate(...).
-- Options chain (sort, skip, limit, hint, maxTimeMS, batchSize); hasNext
-- runs the query or a getMore when the batch in hand is used up, next
-- returns the next document, close kills the server's cursor, count asks
-- for the number of matches.
local bson = require "bson"

local setmetatable, pairs, next, error, assert = setmetatable, pairs, next, error, assert
local tunpack, tmove = table.unpack, table.move
local encode, encode_order, int64 = bson.encode, bson.encode_order, bson.int64
local empty = encode {}

local M = {}

local find_cursor = {}
local find_meta = { __index = find_cursor }
local agg_cursor = {}
local agg_meta = { __index = agg_cursor }

function M.find(coll, query, projection)
	return setmetatable({
		__collection = coll,
		__query = query,
		__projection = projection,
		__document = {},
		__sort = empty,
	}, find_meta)
end

function M.aggregate(coll, pipeline, options)
	assert(pipeline)
	local opts
	if options then
		opts = {}
		for k, v in pairs(options) do
			opts[#opts + 1] = k
			opts[#opts + 1] = v
		end
	end
	local n = #pipeline
	return setmetatable({
		__collection = coll,
		__pipeline = tmove(pipeline, 1, n, 1, {}),
		__pipeline_len = n,
		__options = opts,
		__document = {},
		__skip = 0,
		__limit = 0,
	}, agg_meta)
end

-- sort{k = 1}, or sort({k1 = 1}, {k2 = -1}, ...) for an ordered key list.
function find_cursor:sort(key, key2, ...)
	if key2 then
		local list = {}
		for _, kv in ipairs { key, key2, ... } do
			local k, v = next(kv)
			list[#list + 1] = k
			list[#list + 1] = v
		end
		key = encode_order(tunpack(list))
	end
	self.__sort = key
	return self
end

for _, name in ipairs { "skip", "limit", "hint", "maxTimeMS", "batchSize" } do
	local field = "__" .. name
	find_cursor[name] = function(self, v)
		self[field] = v
		return self
	end
end

-- The options set among `names`, as name, value pairs appended to `list`.
local function options(self, list, names)
	for _, name in ipairs(names) do
		local v = self["__" .. name]
		if v ~= nil then
			list[#list + 1] = name
			list[#list + 1] = v
		end
	end
	return tunpack(list)
end

function find_cursor:count(with_limit_and_skip)
	local c = self.__collection
	local names = with_limit_and_skip and { "skip", "limit", "hint", "maxTimeMS" } or { "hint", "maxTimeMS" }
	local r = c.database:runCommand(options(self, { "count", c.name, "query", self.__query }, names))
	assert(r.ok == 1, r.errmsg)
	return r.n
end

-- Takes a reply's batch; false when there is nothing (more).
local function take(self, r)
	if r.ok ~= 1 then
		self.__document, self.__data, self.__cursor = nil, nil, nil
		error(r.errmsg or "Reply from mongod error")
	end
	local cur = r.cursor
	self.__document = cur.firstBatch or cur.nextBatch
	self.__data = r
	self.__ptr = 1
	self.__cursor = cur.id
	local limit = self.__limit
	if limit and limit > 0 and cur.id > 0 then
		limit = limit - #self.__document
		if limit <= 0 then
			self:close()
		end
		self.__limit = limit
	end
	return not (cur.id == 0 and #self.__document == 0)
end

-- The next batch, or false when the server has no more: `first` runs the
-- query, a getMore follows a live cursor.
local function fetch(self, first)
	if self.__ptr ~= nil then
		return true
	end
	if self.__document == nil then
		return false
	end
	local c = self.__collection
	local db = c.database
	if self.__data == nil then
		return take(self, first(self, c, db))
	end
	if not (self.__cursor and self.__cursor > 0) then
		self.__document, self.__data = nil, nil
		return false
	end
	local bz = self.__batchSize
	if bz and bz > 0 then
		return take(self, db:runCommand("getMore", int64(self.__cursor), "collection", c.name, "batchSize", bz))
	end
	return take(self, db:runCommand("getMore", int64(self.__cursor), "collection", c.name))
end

local function find_query(self, c, db)
	return db:runCommand(options(self, { "find", c.name, "filter", self.__query, "sort", self.__sort,
		"projection", self.__projection }, { "skip", "limit", "hint", "maxTimeMS", "batchSize" }))
end

function find_cursor:hasNext()
	return fetch(self, find_query)
end

function find_cursor:next()
	local ptr = self.__ptr
	if ptr == nil then
		error "Call\thasNext\tfirst"
	end
	local doc = self.__document[ptr]
	ptr = ptr + 1
	if ptr > #self.__document then
		ptr = nil
	end
	self.__ptr = ptr
	return doc
end

function find_cursor:close()
	local id = self.__cursor
	if id and id > 0 then
		local c = self.__collection
		c.database:send_command("killCursors", c.name, "cursors", { int64(id) })
		self.__cursor = nil
	end
end

-- The pipeline with the cursor's sort, skip, limit (and a $count stage
-- for count) appended.
local function pipeline(self, with_limit_and_skip, is_count)
	local p, n = self.__pipeline, self.__pipeline_len
	if self.__sort and not is_count then
		n = n + 1
		p[n] = { ["$sort"] = self.__sort }
	end
	if with_limit_and_skip then
		if self.__skip > 0 then
			n = n + 1
			p[n] = { ["$skip"] = self.__skip }
		end
		if self.__limit > 0 then
			n = n + 1
			p[n] = { ["$limit"] = self.__limit }
		end
	end
	if is_count then
		n = n + 1
		p[n] = { ["$count"] = "__count" }
	end
	for i = n + 1, #p do
		p[i] = nil
	end
	return p
end

local function aggregate(self, db, name, p)
	if self.__options then
		return db:runCommand("aggregate", name, "pipeline", p, tunpack(self.__options))
	end
	return db:runCommand("aggregate", name, "pipeline", p, "cursor", empty)
end

function agg_cursor:count(with_limit_and_skip)
	local c = self.__collection
	local r = aggregate(self, c.database, c.name, pipeline(self, with_limit_and_skip, true))
	if r.ok ~= 1 then
		error(r.errmsg or "Reply from mongod error")
	end
	return r.cursor.firstBatch[1].__count
end

local function agg_query(self, c, db)
	return aggregate(self, db, c.name, pipeline(self, true))
end

function agg_cursor:hasNext()
	return fetch(self, agg_query)
end

agg_cursor.sort = find_cursor.sort
agg_cursor.skip = find_cursor.skip
agg_cursor.limit = find_cursor.limit
agg_cursor.next = find_cursor.next
agg_cursor.close = find_cursor.close

return M
