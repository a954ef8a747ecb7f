local skynet = require "skynet"

skynet.start(function()
	skynet.error("example node started")
	local echo = skynet.newservice("echo")
	local reply = skynet.call(echo, "lua", "hello", 42)
	skynet.error("echo answered:", reply)
end)
