-- .cslave for a single node (harbor = 0): global names are local here.
local skynet = require "skynet"
skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, name, handle)
		if cmd == "QUERYNAME" then
			skynet.ret(skynet.pack(skynet.localname(name)))
		else
			skynet.ret(skynet.pack(nil))
		end
	end)
end)
