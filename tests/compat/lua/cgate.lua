-- The native gate, skynet.launch("gate", "S|L", watchdog, addr, 0, max):
-- "open", "data" and "close" reports to the watchdog as text, "start",
-- "forward" and "kick" commands, frames forwarded to an agent as
-- PTYPE_CLIENT with session = fd, replies written through the gate (last 4
-- bytes = fd) and with socket.write, frames split at every byte, and a
-- 4-byte header past the frame cap closing the connection.
local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"

local mode, gate_arg, fd_arg = ...

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
}

if mode == "agent" then
	local gate, fd = tonumber(gate_arg), tonumber(fd_arg)
	skynet.start(function()
		skynet.dispatch("client", function(session, source, msg)
			assert(session == fd, "session is the fd")
			assert(source == 0, "source is the client given in forward")
			if msg == "direct" then
				socket.write(fd, "direct!")
			else
				skynet.rawsend(gate, "client", "echo:" .. msg .. string.pack("<I4", fd))
			end
		end)
	end)
	return
end

local reports = {}
local waiting

local function expect(pattern)
	for _ = 1, 300 do
		for i, r in ipairs(reports) do
			local caps = { r:match(pattern) }
			if caps[1] then
				table.remove(reports, i)
				return table.unpack(caps)
			end
		end
		skynet.sleep(1)
	end
	error("no report matching " .. pattern .. "; have: " .. table.concat(reports, " | "))
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(text) return text end,
	unpack = skynet.tostring,
	dispatch = function(_, _, text)
		reports[#reports + 1] = text
	end,
}

local function launch_gate(header)
	for _ = 1, 20 do
		local port = math.random(20000, 60000)
		local gate = skynet.launch("gate", header, skynet.address(skynet.self()), "127.0.0.1:" .. port, 0, 8)
		if gate then
			return gate, port
		end
	end
	error("no free port for the gate")
end

local function read_exact(id, n)
	local data = socket.read(id, n)
	assert(data, "connection closed early")
	return data
end

skynet.start(function()
	local gate, port = launch_gate("S")

	-- open, start, and data reported to the watchdog while no agent has it
	local c = assert(socket.open("127.0.0.1", port))
	local fd = tonumber(expect("^(%d+) open %d+ 127%.0%.0%.1:%d+:0$"))
	skynet.send(gate, "text", "start " .. fd)
	socket.write(c, string.pack(">s2", "ping"))
	assert(expect("^" .. fd .. " data (.*)$") == "ping")

	-- forwarded to an agent: replies through the gate and directly
	local agent = skynet.newservice("cgate", "agent", gate, fd)
	skynet.send(gate, "text", string.format("forward %d %s :00000000", fd, skynet.address(agent)))
	socket.write(c, string.pack(">s2", "hello"))
	assert(read_exact(c, 10) == "echo:hello")
	socket.write(c, string.pack(">s2", "direct"))
	assert(read_exact(c, 7) == "direct!")

	-- a frame delivered one byte at a time
	local frame = string.pack(">s2", "split")
	for i = 1, #frame do
		socket.write(c, frame:sub(i, i))
		skynet.sleep(1)
	end
	assert(read_exact(c, 10) == "echo:split")

	-- two frames in one write
	socket.write(c, string.pack(">s2", "a") .. string.pack(">s2", "b"))
	assert(read_exact(c, 12) == "echo:aecho:b")

	-- kick: the client sees the close, the watchdog hears it
	skynet.send(gate, "text", "kick " .. fd)
	assert(socket.read(c) == false, "kicked connection still open")
	expect("^" .. fd .. " close$")
	socket.close(c)

	-- a 4-byte header past the frame cap: closed, and the watchdog is told
	local lgate, lport = launch_gate("L")
	local l = assert(socket.open("127.0.0.1", lport))
	local lfd = tonumber(expect("^(%d+) open %d+ 127%.0%.0%.1:%d+:0$"))
	skynet.send(lgate, "text", "start " .. lfd)
	socket.write(l, string.pack(">I4", 1 << 30) .. "xx")
	expect("^" .. lfd .. " close$")
	assert(socket.read(l) == false, "oversized frame did not close the connection")

	-- close stops listening
	skynet.send(gate, "text", "close")
	skynet.sleep(5)
	assert(not socket.open("127.0.0.1", port), "gate still listening after close")
	skynet.error("PASS")
end)
