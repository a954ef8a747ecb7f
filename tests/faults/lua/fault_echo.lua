-- The called node of the fault tests: @echo answers every call with its
-- argument (a table of bytes comes back as its length, so large calls need
-- no large replies).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	skynet.dispatch("lua", function(session, _, x)
		if session == 0 then
			return -- a cluster.send
		end
		if type(x) == "string" and #x > 64 then
			skynet.ret(skynet.pack(#x))
		else
			skynet.ret(skynet.pack(x))
		end
	end)
	cluster.register("echo")
	local port = tonumber(skynet.getenv "listen_port") or 0
	local _, bound = cluster.open(port)
	skynet.error("LISTEN " .. bound)
end)
