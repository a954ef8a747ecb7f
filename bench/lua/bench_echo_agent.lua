-- bench_echo_agent: echoes one TCP connection; its socket id is the argument.
local skynet = require "skynet"
local socket = require "skynet.socket"

local id = tonumber((...))

skynet.start(function()
	skynet.fork(function()
		socket.start(id)
		while true do
			local data = socket.read(id)
			if not data then
				break
			end
			socket.write(id, data)
		end
		socket.close(id)
		skynet.exit()
	end)
end)
