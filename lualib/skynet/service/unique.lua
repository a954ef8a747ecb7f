-- A unique service made from a function, for skyhold's own libraries
-- (skynet.sharetable, skynet.datasheet): `skynet.service.new(name, main)`
-- as skynet makes them, except in the lua55 build, where skynet.service is
-- not available (it checks a function's text against Lua 5.4 bytecode) and
-- the same code runs as the unique service `fallback` (a service file that
-- runs it). Returns a function that gives the address, made once.
local skynet = require "skynet"
local service = require "skynet.service"

return function(name, main, fallback)
	local address
	return function()
		if not address then
			if _VERSION == "Lua 5.4" then
				address = service.new(name, main)
			else
				address = skynet.uniqueservice(fallback)
			end
		end
		return address
	end
end
