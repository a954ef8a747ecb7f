-- .service: unique services, keyed by name. The first LAUNCH of a name starts
-- it (with that call's arguments); later ones, and QUERY, wait for it and get
-- the same handle. A failed start is remembered as an error string; a
-- launch the node refused (the spawn rate or memory budget of the service
-- that asked) started nothing, so it is not remembered and the next LAUNCH
-- tries again.
local skynet = require "skynet"
require "skynet.manager"

local cmd = {}
local service = {}   -- name -> handle, or error string, or list of waiters

-- Starts a Lua service for `requester`: the launch counts against its
-- limits, not this service's (which has none). Returns the handle, or nil
-- and why the node refused.
local function launch_for(requester, ...)
	return skynet.call(".launcher", "lua", "LAUNCHFOR", requester, "snlua", ...)
end

local function request(name, func, ...)
	local ok, handle, refused = pcall(func, ...)
	local waiters = service[name]
	assert(type(waiters) == "table")
	local err
	if ok and handle then
		service[name] = handle
	elseif ok then
		-- Refused, or exited while starting: nothing to remember, as skynet
		-- remembers nothing when newservice returns no handle.
		service[name] = nil
		err = refused or "the service exited while starting"
	else
		err = tostring(handle)
		service[name] = err
	end
	for _, resp in ipairs(waiters) do
		resp(true, handle, err)
	end
	if handle then
		return handle
	end
	error(err, 0)
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
		-- Waiters get what the LAUNCH caller gets: the handle, or nil and
		-- why (which uniqueservice raises).
		local resp = skynet.response(function(handle, err)
			if handle then
				return skynet.pack(handle)
			end
			return skynet.pack(nil, err)
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

local function snax_launch(requester, name, ...)
	local handle, refused = launch_for(requester, "snaxd", name)
	if refused then
		return nil, refused
	end
	assert(handle, "snax service exited while starting")
	skynet.call(handle, "snax", 1, ...)
	return handle
end

function cmd.LAUNCH(source, name, ...)
	if name == "snaxd" then
		return waitfor("snaxd." .. tostring((...)), snax_launch, source, ...)
	end
	return waitfor(name, launch_for, source, name, ...)
end

function cmd.QUERY(_, name, sub)
	if name == "snaxd" then
		return waitfor("snaxd." .. tostring(sub))
	end
	return waitfor(name)
end

function cmd.GLAUNCH(source, name, ...)
	return cmd.LAUNCH(source, name, ...)
end

function cmd.GQUERY(source, name)
	return cmd.QUERY(source, name)
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
		local ok, r, wait = pcall(f, address, ...)
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
