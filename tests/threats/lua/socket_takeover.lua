local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"

local mode, arg = ...

if mode == "thief" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, id)
			-- The thief learned the connection's id. Every move is refused.
			local ok1 = driver.send(id, "stolen\n")
			local ok2 = driver.start(id)
			local ok3 = driver.close(id)
			local ok4 = driver.abandon(id)
			skynet.ret(skynet.pack(ok1, ok2, ok3, ok4))
		end)
	end)
elseif mode == "client" then
	skynet.start(function()
		local id = assert(socket.open("127.0.0.1", tonumber(arg)))
		socket.write(id, "one\n")
		assert(socket.readline(id) == "echo:one")
		skynet.sleep(10)
		socket.write(id, "two\n")
		local line = socket.readline(id)
		assert(line == "echo:two", "got " .. tostring(line))
		skynet.error("PASS")
	end)
else
	skynet.start(function()
		local thief = skynet.newservice("socket_takeover", "thief")
		local listen_id, _, port = socket.listen("127.0.0.1", 0)
		socket.start(listen_id, function(id)
			skynet.fork(function()
				assert(socket.start(id))
				local first = socket.readline(id)
				socket.write(id, "echo:" .. first .. "\n")
				local a, b, c, d = skynet.call(thief, "lua", id)
				assert(not a and not b and not c and not d, "a non-owner moved a socket")
				local second = socket.readline(id)
				socket.write(id, "echo:" .. tostring(second) .. "\n")
			end)
		end)
		skynet.newservice("socket_takeover", "client", port)
	end)
end
