-- skynet.sharetable: tables loaded once and read by many services.
--
-- skynet shares the table memory between Lua states through a patched Lua;
-- skyhold copies (each reader gets its own table), over the same
-- sharedatad service as skynet.sharedata. `update` keeps skynet's meaning
-- for a reader: the tables it got from query or queryall are refreshed in
-- place (same table objects, new contents), so code holding them sees the
-- new data.
--
-- loadfile(filename, ...), loadstring(name, source, ...), loadtable(name, t),
-- query(name), queryall(names?), update(name, ...).
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
local source = require "skynet.sharedata.source"

local sharetable = {}
local service
local held = {}   -- name -> the table this service got

local function sharedatad()
	service = service or skynet.uniqueservice "sharedatad"
	return service
end

local function store(name, t)
	local ok, err = skynet.call(sharedatad(), "lua", "update", name, t)
	if not ok then
		error(err, 3)
	end
end

function sharetable.loadfile(filename, ...)
	store(filename, source.file(filename, ...))
end

function sharetable.loadstring(name, text, ...)
	store(name, source.string(text, name, ...))
end

function sharetable.loadtable(name, t)
	assert(type(t) == "table", "sharetable.loadtable: a table is needed")
	store(name, t)
end

local function fetch(name)
	local version, blob = skynet.call(sharedatad(), "lua", "query", name)
	if version == nil then
		return nil
	end
	return skynet.unpack(blob)
end

function sharetable.query(name)
	local t = held[name]
	if t then
		return t
	end
	t = fetch(name)
	held[name] = t
	return t
end

function sharetable.queryall(names)
	local r = {}
	if names then
		for _, name in ipairs(names) do
			r[name] = sharetable.query(name)
		end
	else
		for name in pairs(held) do
			r[name] = held[name]
		end
	end
	return r
end

-- Refreshes the tables this service holds, in place (same tables, the
-- newest contents). With no names, all of them.
function sharetable.update(...)
	local names = { ... }
	if #names == 0 then
		for name in pairs(held) do
			names[#names + 1] = name
		end
	end
	for _, name in ipairs(names) do
		local old, new = held[name], fetch(name)
		if old and new then
			for k in pairs(old) do
				old[k] = nil
			end
			for k, v in pairs(new) do
				old[k] = v
			end
		elseif new then
			held[name] = new
		end
	end
end

-- skynet.sharedata's deepcopy, for code that mixes the two.
sharetable.deepcopy = sharedata.deepcopy

return sharetable
