-- A service other nodes reach as @echo.
local skynet = require "skynet"

local pushed = 0

local command = {}

function command.echo(...)
	return ...
end

function command.push(n)
	pushed = pushed + n
end

function command.pushed()
	return pushed
end

function command.fail()
	error("echo was asked to fail")
end

function command.size(s)
	return #s
end

function command.quit()
	skynet.exit()
end

function command.source()
	return skynet.address(skynet.self())
end

local name = ...

skynet.start(function()
	if name then
		require "skynet.manager"
		skynet.register(name)
	end
	skynet.dispatch("lua", function(session, _, cmd, ...)
		local f = assert(command[cmd], cmd)
		if session == 0 then
			f(...)
		else
			skynet.retpack(f(...))
		end
	end)
end)
