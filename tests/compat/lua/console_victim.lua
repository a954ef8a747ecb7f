-- A service for the console to list, call, inject into and kill.
local skynet = require "skynet"

skynet.start(function()
	skynet.info_func(function(...)
		return { name = "victim", args = select("#", ...) }
	end)
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "spin" then
			-- For `signal`: runs until an operator breaks it.
			skynet.error("SPINNING")
			while true do
			end
		end
		skynet.ret(skynet.pack("echo", cmd, ...))
	end)
end)
