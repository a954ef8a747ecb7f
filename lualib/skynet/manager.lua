-- skynet.manager: the functions that reach beyond the calling service. The
-- runtime checks each against the policy (kill, abort, naming another
-- service, launching native modules need grants).
local skynet = require "skynet"
local c = require "skynet.core"

function skynet.launch(module, ...)
	local args = table.concat({ ... }, " ")
	return c.launch(module, args)
end

function skynet.kill(name)
	if type(name) == "number" then
		skynet.send(".launcher", "lua", "REMOVE", name, true)
		name = skynet.address(name)
	end
	return c.kill(name)
end

function skynet.abort()
	c.abort()
end

local function is_global(name)
	return string.sub(name, 1, 1) ~= "."
end

-- A new global name may be awaited by calls and sends (.cslave holds them).
local function announce(name)
	if is_global(name) then
		skynet.send(".cslave", "lua", "REGISTER", name)
	end
end

function skynet.register(name)
	assert(type(name) == "string", "name must be a string")
	c.register(name)
	announce(name)
end

function skynet.name(name, handle)
	assert(type(name) == "string", "name must be a string")
	if handle == skynet.self() then
		c.register(name)
	else
		c.name(name, handle)
	end
	announce(name)
end

function skynet.forward_type(map, start_func)
	-- Messages of the mapped types are dispatched as the mapped type.
	c.filter(function(ptype, msg, sz, ...)
		return map[ptype] or ptype, msg, sz, ...
	end)
	skynet.timeout(0, function()
		skynet.init_service(start_func)
	end)
end

function skynet.filter(f, start_func)
	c.filter(f)
	skynet.timeout(0, function()
		skynet.init_service(start_func)
	end)
end

function skynet.monitor(service, query)
	local monitor
	if query then
		monitor = skynet.queryservice(true, service)
	else
		monitor = skynet.uniqueservice(true, service)
	end
	assert(monitor, "Monitor launch failed")
	c.monitor(monitor)
	return monitor
end

skynet.is_global_name = is_global

return skynet
