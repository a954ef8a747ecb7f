-- sharedatad: the named tables of skynet.sharedata. Each is kept packed
-- (skynet.packstring) with a version number; readers get a copy, and a
-- reader's `monitor` call is answered when the version changes (or the name
-- is deleted), which is how updates reach readers. The data arrives as
-- tables: source text is turned into data by the caller, so this service
-- runs no code it is sent.
--
-- Commands (PTYPE_LUA): new(name, t), update(name, t), delete(name),
-- query(name) -> version, blob, monitor(name, version) -> version, blob.
--
-- A name belongs to the service that made it: only that service, or one the
-- policy grants `kill`, may update or delete it (skynet lets anyone).
local skynet = require "skynet"
local core = require "skynet.core"

local pool = {}   -- name -> { version, blob, watch = { response closures }, threshold }
local CMD = {}
local NORET = {}

local function packed(name, value)
	if value == nil then
		value = {}
	end
	if type(value) ~= "table" then
		error(string.format("sharedata %s: the data must be a table, not %s", tostring(name), type(value)), 0)
	end
	return skynet.packstring(value)
end

local caller

local function owned(v, what, name)
	if v.owner ~= caller and not core.permits(caller, "kill") then
		core.audit(caller, "kill", "sharedata " .. what .. " " .. tostring(name))
		error(string.format("sharedata %s: only the service that made it may %s it", tostring(name), what), 0)
	end
end

function CMD.new(name, value)
	if pool[name] then
		error(string.format("sharedata %s exists", tostring(name)), 0)
	end
	pool[name] = { version = 1, blob = packed(name, value), watch = {}, threshold = 16, owner = caller }
	return true
end

function CMD.update(name, value)
	local v = pool[name]
	if v == nil then
		return CMD.new(name, value)
	end
	owned(v, "update", name)
	v.blob = packed(name, value)
	v.version = v.version + 1
	local watch = v.watch
	v.watch = {}
	for _, response in ipairs(watch) do
		response(true, v.version, v.blob)
	end
	return true
end

function CMD.delete(name)
	local v = pool[name]
	if v == nil then
		error(string.format("sharedata %s not found", tostring(name)), 0)
	end
	owned(v, "delete", name)
	pool[name] = nil
	for _, response in ipairs(v.watch) do
		response(true)
	end
	return true
end

function CMD.query(name)
	local v = pool[name]
	if v then
		return v.version, v.blob
	end
end

-- Drops the watches of readers that are gone.
local function prune(v)
	local kept = {}
	for _, response in ipairs(v.watch) do
		if response "TEST" then
			kept[#kept + 1] = response
		end
	end
	v.watch = kept
	v.threshold = math.max(16, #kept * 2)
end

function CMD.monitor(name, version)
	local v = pool[name]
	if v == nil then
		return nil
	end
	if v.version ~= version then
		return v.version, v.blob
	end
	if #v.watch >= v.threshold then
		prune(v)
	end
	v.watch[#v.watch + 1] = skynet.response()
	return NORET
end

local function result(ok, ...)
	if not ok then
		return skynet.retpack(nil, tostring(...))
	end
	if ... ~= NORET then
		skynet.retpack(...)
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(_, source, cmd, ...)
		caller = source
		local f = CMD[cmd]
		if not f then
			error("sharedatad: unknown command " .. tostring(cmd))
		end
		result(pcall(f, ...))
	end)
end)
