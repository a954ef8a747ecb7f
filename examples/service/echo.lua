local skynet = require "skynet"

skynet.start(function()
	skynet.dispatch("lua", function(session, source, text, n)
		skynet.ret(skynet.pack(text .. " " .. tostring(n)))
	end)
end)
