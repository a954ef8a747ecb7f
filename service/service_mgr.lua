-- .service: unique services, keyed by name. The first LAUNCH of a name starts
-- it (with that call's arguments); later ones, and QUERY, wait for it and get
-- the same handle. A failed start is remembered as an error string.
local skynet = require "skynet"
require "skynet.manager"

local cmd = {}
local service = {}   -- name -> handle, or error string, or list of waiters

local function request(name, func, ...)
	local ok, handle = pcall(func, ...)
	local waiters = service[name]
	assert(type(waiters) == "table")
	if ok then
		service[name] = handle
	else
		service[name] = tostring(handle)
	end
	for _, resp in ipairs(waiters) do
		resp(true, ok and handle or nil, not ok and tostring(handle) or nil)
	end
	if ok then
		return handle
	end
	error(tostring(handle))
end

local function waitfor(name, func, ...)
	local s = service[name]
	if type(s) == "number" then
		return s
	end
	local t = type(s)
	if t == "string" then
		error(s)
	elseif t == "table" then
		local resp = skynet.response(function(handle, err)
			if handle then
				return skynet.pack(handle)
			end
			error(err)
		end)
		s[#s + 1] = resp
		return nil, "WAIT"
	end
	if func == nil then
		-- QUERY for a service not launched yet: wait for it.
		service[name] = {}
		local resp = skynet.response()
		service[name][1] = resp
		return nil, "WAIT"
	end
	service[name] = {}
	return request(name, func, ...)
end

-- Unique snax services (snax.uniqueservice, LAUNCH "snaxd" NAME ...) are
-- kept under "snaxd.NAME" and started as snax.rawnewservice does: a snaxd,
-- then its init (method id 1) with the arguments. This service never reads
-- the snax file itself.
pcall(skynet.register_protocol, {
	name = "snax",
	id = skynet.PTYPE_SNAX,
	pack = skynet.pack,
	unpack = skynet.unpack,
})

local function snax_launch(name, ...)
	local handle = assert(skynet.newservice("snaxd", name), "snax service exited while starting")
	skynet.call(handle, "snax", 1, ...)
	return handle
end

function cmd.LAUNCH(name, ...)
	if name == "snaxd" then
		return waitfor("snaxd." .. tostring((...)), snax_launch, ...)
	end
	return waitfor(name, skynet.newservice, name, ...)
end

function cmd.QUERY(name, sub)
	if name == "snaxd" then
		return waitfor("snaxd." .. tostring(sub))
	end
	return waitfor(name)
end

function cmd.GLAUNCH(name, ...)
	return cmd.LAUNCH(name, ...)
end

function cmd.GQUERY(name)
	return cmd.QUERY(name)
end

function cmd.LIST()
	local result = {}
	for k, v in pairs(service) do
		if type(v) == "string" then
			v = "Error: " .. v
		elseif type(v) == "table" then
			v = "Querying"
		else
			v = skynet.address(v)
		end
		result[k] = v
	end
	return result
end

skynet.start(function()
	skynet.dispatch("lua", function(session, address, command, ...)
		local f = cmd[command]
		if f == nil then
			skynet.ret(skynet.pack(nil, "Invalid command " .. tostring(command)))
			return
		end
		local ok, r, wait = pcall(f, ...)
		if wait == "WAIT" then
			return
		end
		if ok then
			skynet.ret(skynet.pack(r))
		else
			skynet.ret(skynet.pack(nil, r))
		end
	end)
end)
