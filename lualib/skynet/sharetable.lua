-- skynet.sharetable: tables loaded once and read by many services.
--
-- As in skynet, the tables live in one service made by skynet.service
-- (`service.new("sharetable", ...)`), and each `query` or `queryall`
-- returns the newest version of a name as a new table. skynet shares the
-- table memory between Lua states through a patched Lua; skyhold copies
-- (each reader unpacks its own table), so a reader pays the memory of the
-- data it reads. `update(name, ...)` refreshes, in place, every table this
-- service got for those names (nested tables too, key by key), which is
-- what skynet's update achieves by replacing references.
--
-- Source text given to loadfile and loadstring is turned into data in the
-- calling service (skynet.sharedata.source), never in the shared service.
-- A name belongs to the service that first loaded it: only that service,
-- or one the policy grants `kill`, may load it again (skynet lets anyone).
--
-- loadfile(filename, ...), loadstring(name, source, ...), loadtable(name, t),
-- query(name), queryall(names?), update(...).
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
local source = require "skynet.sharedata.source"
local refresh = require "skynet.sharetable.refresh"

-- The shared service's code, run by a service_cell as skynet's is. It may
-- use no variable of this file (skynet.service passes only its text).
local function sharetable_service()
	require("skynet.sharetable.server")()
end

local sharetable = {}
local got = {}   -- name -> weak set of the tables this service was given

-- skynet.service's "sharetable", as skynet's (sharetabled in the lua55 build).
local shared = require("skynet.service.unique")("sharetable", sharetable_service, "sharetabled")

local function load(name, t)
	skynet.call(shared(), "lua", "load", name, t)
end

function sharetable.loadfile(filename, ...)
	load(filename, source.file(filename, ...))
end

function sharetable.loadstring(name, text, ...)
	load(name, source.string(text, name, ...))
end

function sharetable.loadtable(name, t)
	assert(type(t) == "table")
	load(name, t)
end

local function remember(name, t)
	local set = got[name]
	if not set then
		set = setmetatable({}, { __mode = "k" })
		got[name] = set
	end
	set[t] = true
	return t
end

function sharetable.query(name)
	local _, blob = skynet.call(shared(), "lua", "query", name)
	if blob then
		return remember(name, skynet.unpack(blob))
	end
end

function sharetable.queryall(names)
	local list = {}
	for name, v in pairs(skynet.call(shared(), "lua", "queryall", names)) do
		list[name] = remember(name, skynet.unpack(v[2]))
	end
	return list
end

-- Refreshes the tables this service got for the given names (all of them
-- when none is given) to their newest versions.
function sharetable.update(...)
	local names = { ... }
	if #names == 0 then
		for name in pairs(got) do
			names[#names + 1] = name
		end
	end
	for _, name in ipairs(names) do
		local set = got[name]
		if set and next(set) then
			local _, blob = skynet.call(shared(), "lua", "query", name)
			if blob then
				for t in pairs(set) do
					refresh(t, skynet.unpack(blob))
				end
			end
		end
	end
end

-- skynet.sharedata's deepcopy, for code that mixes the two.
sharetable.deepcopy = sharedata.deepcopy

return sharetable
