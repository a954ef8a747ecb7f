-- TCP echo through skynet.socket: listen, accept, one agent per connection
-- (the id handed over and claimed with start), read/readline/write, a client
-- made with socket.open in another service, and close.
local skynet = require "skynet"
local socket = require "skynet.socket"

local mode, arg = ...

if mode == "agent" then
	skynet.start(function()
		local id = tonumber(arg)
		assert(socket.start(id))
		while true do
			local line = socket.readline(id)
			if not line then
				break
			end
			socket.write(id, "echo:" .. line .. "\n")
		end
		socket.close(id)
		skynet.exit()
	end)
elseif mode == "client" then
	skynet.start(function()
		local port = tonumber(arg)
		local id = assert(socket.open("127.0.0.1", port))
		socket.write(id, "hello\nwor")
		socket.write(id, "ld\n")
		assert(socket.readline(id) == "echo:hello")
		assert(socket.readline(id) == "echo:world")
		socket.write(id, "12345\n")
		assert(socket.read(id, 5) == "echo:")
		assert(socket.read(id, 6) == "12345\n")
		socket.close(id)
		skynet.error("PASS")
	end)
else
	skynet.start(function()
		local listen_id, addr, port = socket.listen("127.0.0.1", 0)
		assert(port and port > 0)
		socket.start(listen_id, function(id, from)
			skynet.newservice("socket_echo", "agent", id)
		end)
		skynet.newservice("socket_echo", "client", port)
	end)
end
