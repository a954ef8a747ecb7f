-- Handles a message of its own every 50 ms (so its counters move), holds
-- some memory, and echoes lines on a TCP port it announces as
-- "ECHO <port>".
local skynet = require "skynet"
local socket = require "skynet.socket"

local hoard = {}

local function echo(fd)
	socket.start(fd)
	while true do
		local line = socket.readline(fd)
		if not line then
			break
		end
		socket.write(fd, line .. "\n")
	end
	socket.close(fd)
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, what)
		if what == "tick" then
			hoard[#hoard % 64 + 1] = string.rep("x", 1024)
		end
	end)
	local id, _, port = socket.listen("127.0.0.1", 0)
	socket.start(id, function(fd)
		skynet.fork(echo, fd)
	end)
	skynet.error("ECHO " .. port)
	skynet.fork(function()
		-- Once the console listens too: an ordinary service's netstat lists
		-- its own sockets only.
		skynet.sleep(100)
		local own, others = 0, 0
		for _, s in ipairs(socket.netstat()) do
			if s.address == skynet.self() then
				own = own + 1
			else
				others = others + 1
			end
		end
		skynet.error(string.format("NETSTAT OWN %d OTHERS %d", own, others))
	end)
	skynet.fork(function()
		while true do
			skynet.send(skynet.self(), "lua", "tick")
			skynet.sleep(5)
		end
	end)
end)
