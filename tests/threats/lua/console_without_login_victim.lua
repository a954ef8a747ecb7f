-- The service the console_without_login attacker tries to reach.
local skynet = require "skynet"

skynet.start(function()
	skynet.dispatch("lua", function()
		skynet.ret(skynet.pack("reached"))
	end)
end)
