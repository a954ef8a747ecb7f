-- skynet.sharedata: named, read-mostly tables shared between services.
--
-- The data lives in the sharedatad service, packed. skynet hands out
-- pointers into one shared C copy; skyhold gives each reader its own copy
-- (a Lua state cannot see another's memory). `query` returns a read-only
-- proxy that always shows the newest version: each service keeps one
-- watcher per name, a call to sharedatad answered when the data changes.
--
-- new(name, value, ...): value is a table, Lua source text, or "@file" (a
--   data file on the lua_path); source and files run here, in a small
--   environment of their own, with `...` as arguments. Only the service
--   that made a name (or one the policy grants `kill`) may update or
--   delete it.
-- update(name, value, ...), delete(name), query(name), deepcopy(name, ...),
-- flush().
local skynet = require "skynet"
local source = require "skynet.sharedata.source"

local sharedata = {}
local service

local function sharedatad()
	service = service or skynet.uniqueservice "sharedatad"
	return service
end

local function request(cmd, ...)
	local r, err = skynet.call(sharedatad(), "lua", cmd, ...)
	if r == nil and err ~= nil then
		error(err, 3)
	end
	return r, err
end

local function data_of(name, value, ...)
	local t = type(value)
	if t == "table" then
		return value
	elseif t == "string" then
		if value:sub(1, 1) == "@" then
			return source.file(value:sub(2), ...)
		end
		return source.string(value, name, ...)
	elseif t == "nil" then
		return {}
	end
	error("Unknown data type " .. t, 3)
end

function sharedata.new(name, value, ...)
	request("new", name, data_of(name, value, ...))
end

function sharedata.update(name, value, ...)
	request("update", name, data_of(name, value, ...))
end

function sharedata.delete(name)
	request("delete", name)
end

-- Readers ---------------------------------------------------------------------

local boxes = {}   -- name -> { data = table | nil, version = n, proxies = weak cache }

local function watch(name, box)
	while true do
		local version, blob = skynet.call(sharedatad(), "lua", "monitor", name, box.version)
		if version == nil then
			box.data = nil
			boxes[name] = nil
			return
		end
		box.version = version
		box.data = skynet.unpack(blob)
	end
end

local proxy

-- The node at `path` in the current version (nil if it is gone).
local function resolve(box, path)
	local node = box.data
	for i = 1, #path do
		if type(node) ~= "table" then
			return nil
		end
		node = node[path[i]]
	end
	return node
end

local function value_at(box, path, k)
	local node = resolve(box, path)
	if node == nil then
		error("sharedata: the data was deleted", 3)
	end
	local v = node[k]
	if type(v) == "table" then
		local p = { table.unpack(path) }
		p[#p + 1] = k
		return proxy(box, p)
	end
	return v
end

function proxy(box, path)
	return setmetatable({}, {
		__index = function(_, k)
			return value_at(box, path, k)
		end,
		__newindex = function()
			error("sharedata is read-only", 2)
		end,
		__len = function()
			return #(resolve(box, path) or {})
		end,
		__pairs = function()
			local node = resolve(box, path) or {}
			local function it(_, k)
				local nk = next(node, k)
				if nk == nil then
					return nil
				end
				return nk, value_at(box, path, nk)
			end
			return it, nil, nil
		end,
	})
end

function sharedata.query(name)
	local box = boxes[name]
	if not box then
		local version, blob = request("query", name)
		if version == nil then
			error("sharedata " .. tostring(name) .. " not found", 2)
		end
		box = { version = version, data = skynet.unpack(blob) }
		boxes[name] = box
		skynet.fork(watch, name, box)
	end
	return proxy(box, {})
end

local function copy(v)
	if type(v) ~= "table" then
		return v
	end
	local t = {}
	for k, x in pairs(v) do
		t[k] = copy(x)
	end
	return t
end

-- A plain copy of the data (or of the part reached by the keys given).
function sharedata.deepcopy(name, ...)
	local box = boxes[name]
	local data
	if box and box.data then
		data = box.data
	else
		local version, blob = request("query", name)
		if version == nil then
			error("sharedata " .. tostring(name) .. " not found", 2)
		end
		data = skynet.unpack(blob)
	end
	for i = 1, select("#", ...) do
		if type(data) ~= "table" then
			return nil
		end
		data = data[(select(i, ...))]
	end
	return copy(data)
end

-- skynet frees old versions here; copies are collected by Lua's GC.
function sharedata.flush() end

return sharedata
