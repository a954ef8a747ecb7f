-- A service for the console to list, call, inject into and kill.
local skynet = require "skynet"

skynet.start(function()
	skynet.info_func(function(...)
		return { name = "victim", args = select("#", ...) }
	end)
	skynet.dispatch("lua", function(_, _, cmd, ...)
		skynet.ret(skynet.pack("echo", cmd, ...))
	end)
end)
