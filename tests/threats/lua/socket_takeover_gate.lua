-- A service that learns a connection id of the native gate tries to command
-- the gate, write through it, redirect the connection to itself and write
-- to the socket directly. Each is refused; the client sees only its agent.
local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"

local mode, gate_arg, fd_arg = ...

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
}
skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(text) return text end,
	unpack = skynet.tostring,
}

if mode == "agent" then
	local gate, fd = tonumber(gate_arg), tonumber(fd_arg)
	skynet.start(function()
		skynet.dispatch("client", function(_, _, msg)
			skynet.rawsend(gate, "client", "echo:" .. msg .. string.pack("<I4", fd))
		end)
	end)
elseif mode == "thief" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, gate, fd)
			skynet.send(gate, "text", "kick " .. fd)
			skynet.send(gate, "text", string.format("forward %d %s :00000000", fd, skynet.address(skynet.self())))
			skynet.rawsend(gate, "client", "stolen" .. string.pack("<I4", fd))
			local direct = driver.send(fd, "stolen")
			skynet.retpack(direct)
		end)
		skynet.dispatch("client", function()
			skynet.error("FAIL: the thief got a client frame")
		end)
	end)
else
	local reports = {}
	skynet.dispatch("text", function(_, _, text)
		reports[#reports + 1] = text
	end)
	skynet.start(function()
		local gate, port
		for _ = 1, 20 do
			port = math.random(20000, 60000)
			gate = skynet.launch("gate", "S", skynet.address(skynet.self()), "127.0.0.1:" .. port, 0, 8)
			if gate then
				break
			end
		end
		assert(gate, "no gate")
		local c = assert(socket.open("127.0.0.1", port))
		local fd
		for _ = 1, 300 do
			fd = reports[1] and tonumber(reports[1]:match("^(%d+) open"))
			if fd then
				break
			end
			skynet.sleep(1)
		end
		assert(fd, "no open report")
		local agent = skynet.newservice("socket_takeover_gate", "agent", gate, fd)
		skynet.send(gate, "text", string.format("forward %d %s :00000000", fd, skynet.address(agent)))
		skynet.send(gate, "text", "start " .. fd)
		socket.write(c, string.pack(">s2", "one"))
		assert(socket.read(c, 8) == "echo:one")

		local thief = skynet.newservice("socket_takeover_gate", "thief")
		assert(not skynet.call(thief, "lua", gate, fd), "the thief wrote to the gate's socket")
		skynet.sleep(10)
		socket.write(c, string.pack(">s2", "two"))
		local got = socket.read(c, 8)
		assert(got == "echo:two", "client got " .. tostring(got))
		skynet.error("PASS")
	end)
end
