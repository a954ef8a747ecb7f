-- skynet.service: unique services made from a Lua function, by name.
--
-- `service.new(name, mainfunc, ...)` starts `mainfunc(...)` in a new
-- service (a service_cell) the first time `name` is asked for and returns
-- its address; later calls, and `service.query(name)`, get the same one.
--
-- skynet sends `string.dump(mainfunc)` bytecode to the new service. skyhold
-- loads no bytecode and keeps function text out of messages: the runtime
-- (skyhold.code.seal) finds `mainfunc`'s source text in the file it loaded
-- it from, checks that the text compiles to exactly `mainfunc`, and keeps it;
-- the services involved pass only a number that names it, usable only by the
-- service it was handed to. So, as in skynet, `mainfunc` may use no
-- variable of the enclosing code (only globals, through `_ENV`), and it
-- must be written in a Lua file skyhold loaded (a service script, a module,
-- a snax file), not made by `load`. Each name stays bound to the function
-- (file and lines) that first made it: asking for it with another function
-- is an error, so a service cannot take a name first with its own code.
local skynet = require "skynet"
local code = require "skyhold.code"

local service = {}
local cache = {}
local provider

local function get_provider()
	provider = provider or skynet.uniqueservice "service_provider"
	return provider
end

function service.new(name, mainfunc, ...)
	assert(type(name) == "string", "service.new: the name must be a string")
	if type(mainfunc) ~= "function" then
		error("service.new " .. name .. ": the main function must be a function", 2)
	end
	local p = get_provider()
	local addr, booting, err = skynet.call(p, "lua", "test", name, code.origin(mainfunc))
	if err then
		error(err, 2)
	end
	if not addr then
		if booting then
			addr = skynet.call(p, "lua", "query", name)
		else
			local id, why = code.seal(mainfunc, p)
			if not id then
				error("service.new " .. name .. ": " .. why, 2)
			end
			addr, err = skynet.call(p, "lua", "launch", name, id, ...)
			if not addr then
				error(err, 2)
			end
		end
	end
	cache[name] = addr
	return addr
end

-- Retires the service. Allowed to the service that made it and to services
-- the policy grants `kill`; returns false if there is no such service.
function service.close(name)
	local addr, err = skynet.call(get_provider(), "lua", "close", name)
	if err then
		error(err, 2)
	end
	cache[name] = nil
	return addr ~= nil
end

function service.query(name)
	if not cache[name] then
		cache[name] = skynet.call(get_provider(), "lua", "query", name)
	end
	return cache[name]
end

return service
