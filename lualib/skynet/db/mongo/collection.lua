-- skynet.db.mongo's collections: writes (acknowledged `safe_*` ones return
-- ok, err, reply; the others are sent with w=0 and return nothing),
-- findOne/find/aggregate, indexes, findAndModify, and the client's
-- bulkWrite.
local bson = require "bson"
local cursor = require "skynet.db.mongo.cursor"

local rawget, setmetatable, pairs, ipairs, next, type = rawget, setmetatable, pairs, ipairs, next, type
local tunpack = table.unpack
local encode, encode_order = bson.encode, bson.encode_order
local empty = encode {}

local coll = {}
local meta = {
	__index = function(self, key)
		return rawget(coll, key) or self:getCollection(key)
	end,
	__tostring = function(self)
		return "[mongo collection :\t" .. self.full_name .. "]"
	end,
}

--- The collection `name` of a database (or a sub-collection of a
--- collection), cached in it.
function coll.getCollection(parent, name)
	local c = {
		connection = parent.connection,
		name = name,
		full_name = parent.full_name .. "." .. name,
		database = parent.database,
	}
	parent[name] = setmetatable(c, meta)
	return c
end

-- ok, the first error's text, the reply.
local function write_result(r)
	local ok = r.ok == 1 and not r.writeErrors and not r.writeConcernError and not r.errmsg
	local err
	if not ok then
		if r.writeErrors then
			err = r.writeErrors[1].errmsg
		elseif r.writeConcernError then
			err = r.writeConcernError.errmsg
		else
			err = r.errmsg
		end
	end
	return ok, err, r
end

local function with_ids(docs)
	for i = 1, #docs do
		local d = docs[i]
		if d._id == nil then
			d._id = bson.objectid()
		end
		docs[i] = encode(d)
	end
	return docs
end

local function safe(self, cmd, key, list)
	return write_result(self.database:runCommand(cmd, self.name, key, list))
end

function coll:insert(doc)
	self.database:send_command("insert", self.name, "documents", with_ids { doc })
end

function coll:safe_insert(doc)
	return safe(self, "insert", "documents", { encode(doc) })
end

function coll:raw_safe_insert(doc)
	return safe(self, "insert", "documents", { doc })
end

function coll:batch_insert(docs)
	self.database:send_command("insert", self.name, "documents", with_ids(docs))
end
coll.insert_many = coll.batch_insert

function coll:safe_batch_insert(docs)
	return safe(self, "insert", "documents", with_ids(docs))
end
coll.safe_insert_many = coll.safe_batch_insert

local function update_doc(query, update, upsert, multi)
	return encode { q = query, u = update, upsert = upsert, multi = multi }
end

function coll:update(query, update, upsert, multi)
	self.database:send_command("update", self.name, "updates", { update_doc(query, update, upsert, multi) })
end

function coll:safe_update(query, update, upsert, multi)
	return safe(self, "update", "updates", { update_doc(query, update, upsert, multi) })
end

local function update_docs(updates)
	local list = {}
	for i, u in ipairs(updates) do
		list[i] = update_doc(u.query, u.update, u.upsert, u.multi)
	end
	return list
end

function coll:batch_update(updates)
	self.database:send_command("update", self.name, "updates", update_docs(updates))
end

function coll:safe_batch_update(updates)
	return safe(self, "update", "updates", update_docs(updates))
end

function coll:raw_safe_update(update)
	return safe(self, "update", "updates", { update })
end

local function delete_doc(query, single)
	return encode { q = query, limit = single and 1 or 0 }
end

function coll:delete(query, single)
	self.database:send_command("delete", self.name, "deletes", { delete_doc(query, single) })
end

function coll:safe_delete(query, single)
	return safe(self, "delete", "deletes", { delete_doc(query, single) })
end

function coll:safe_batch_delete(queries, single)
	local list = {}
	for i, q in ipairs(queries) do
		list[i] = delete_doc(q, single)
	end
	return safe(self, "delete", "deletes", list)
end

function coll:raw_safe_delete(delete)
	return safe(self, "delete", "deletes", { delete })
end

function coll:findOne(query, projection)
	local r = self.database:runCommand("find", self.name, "filter", query and encode(query) or empty,
		"limit", 1, "projection", projection and encode(projection) or empty)
	if r.ok ~= 1 then
		error(r.errmsg or "Reply from mongod error")
	end
	return r.cursor.firstBatch[1]
end

function coll:find(query, projection)
	return cursor.find(self, query and encode(query) or empty, projection and encode(projection) or empty)
end

function coll:aggregate(pipeline, options)
	return cursor.aggregate(self, pipeline, options)
end

-- The old form: one key and an options table.
local function index_one_key(self, key, option)
	local doc = {}
	for k, v in pairs(option) do
		doc[k] = v
	end
	local k, v = next(key)
	assert(next(key, k) == nil, "Use new api for multi-keys")
	doc.name = doc.name or (k .. "_" .. v)
	doc.key = key
	return self.database:runCommand("createIndexes", self.name, "indexes", { doc })
end

-- { {k1 = 1}, "k2", unique = true, ... }: the keys in order (a bare name
-- is ascending), the named fields as options, a name made from the keys.
local function index_model(option)
	local doc, keys, name = {}, {}, nil
	for k, v in pairs(option) do
		if type(k) == "string" then
			doc[k] = v
		end
	end
	for _, kv in ipairs(option) do
		local k, v
		if type(kv) == "string" then
			k, v = kv, 1
		else
			k, v = next(kv)
		end
		keys[#keys + 1] = k
		keys[#keys + 1] = v
		name = (name and (name .. "_") or "") .. k .. "_" .. v
	end
	assert(name, "Need keys")
	doc.name = doc.name or name
	doc.key = encode_order(tunpack(keys))
	return doc
end

function coll:createIndex(arg1, arg2)
	if arg2 then
		return index_one_key(self, arg1, arg2)
	end
	return self.database:runCommand("createIndexes", self.name, "indexes", { index_model(arg1) })
end
coll.ensureIndex = coll.createIndex

function coll:createIndexes(...)
	local list = { ... }
	for i, v in ipairs(list) do
		list[i] = index_model(v)
	end
	return self.database:runCommand("createIndexes", self.name, "indexes", list)
end

function coll:drop()
	return self.database:runCommand("drop", self.name)
end

function coll:dropIndex(name)
	return self.database:runCommand("dropIndexes", self.name, "index", name)
end

--- findAndModify{query = , update = | remove = , sort, new, fields, upsert}
function coll:findAndModify(doc)
	assert(doc.query)
	assert(doc.update or doc.remove)
	local cmd = { "findAndModify", self.name }
	for k, v in pairs(doc) do
		cmd[#cmd + 1] = k
		cmd[#cmd + 1] = v
	end
	return self.database:runCommand(tunpack(cmd))
end

-- bulkWrite (MongoDB 8) ------------------------------------------------------

local function option(list, key, value)
	if value ~= nil then
		list[#list + 1] = key
		list[#list + 1] = type(value) == "table" and encode(value) or value
	end
end

local bulk_op = {}

function bulk_op.insert(ns, d)
	return encode_order("insert", ns, "document", encode(d.insert))
end

function bulk_op.delete(ns, d)
	local args = { "delete", ns, "filter", encode(d.filter), "multi", d.multi or false }
	option(args, "hit", d.hit)
	option(args, "collation", d.collation)
	return encode_order(tunpack(args))
end

function bulk_op.update(ns, d)
	local args = { "update", ns, "filter", encode(d.filter), "updateMods", encode(d.update),
		"multi", d.multi or false, "upsert", d.upsert or false }
	option(args, "hit", d.hit)
	option(args, "constants", d.constants)
	option(args, "collation", d.collation)
	return encode_order(tunpack(args))
end

--- client:bulkWrite(ops, comment, ordered, bypassDocumentValidation,
--- errorsOnly): each op {op = "insert"|"update"|"delete", collection =
--- "db.coll", ...}. Returns ok, err, reply, and the failed ops' indexes.
function coll.bulk_write(client, ops, comment, ordered, verify, errors_only)
	local list, ns, index = {}, {}, {}
	for i, d in ipairs(ops) do
		if not index[d.collection] then
			index[d.collection] = #ns
			ns[#ns + 1] = encode { ns = d.collection }
		end
		local f = assert(bulk_op[d.op], d.op)
		list[i] = f(index[d.collection], d)
	end
	local args = { "bulkWrite", 1, "ops", list, "nsInfo", ns }
	option(args, "ordered", ordered)
	option(args, "bypassDocumentValidation", verify)
	option(args, "comment", comment)
	option(args, "errorsOnly", errors_only)
	local r = client:runCommand(tunpack(args))
	local ok, err = write_result(r)
	local failed
	if r.nErrors and r.nErrors ~= 0 and r.cursor then
		failed = {}
		err = err and (err .. ";") or ""
		for i, v in ipairs(r.cursor.firstBatch) do
			if v.ok ~= 1 then
				failed[#failed + 1] = i
				err = err .. tostring(v.errmsg) .. ";"
			end
		end
	end
	return ok, err, r, failed
end

return coll
