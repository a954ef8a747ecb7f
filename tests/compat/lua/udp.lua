-- UDP round trip on 127.0.0.1: a server answers each datagram to its sender,
-- a client with a default peer (udp_connect) writes and reads the answer.
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.start(function()
	local server
	local function answer(data, from)
		local ip, port = socket.udp_address(from)
		assert(ip == "127.0.0.1" and port > 0, "sender address")
		socket.sendto(server, from, "re:" .. data)
	end
	local addr, port
	server, addr, port = socket.udp(answer, "127.0.0.1", 0)
	assert(addr == "127.0.0.1" and port > 0, "udp returns the bound address")
	local got
	local client = socket.udp(function(data) got = data end, "127.0.0.1", 0)
	socket.udp_connect(client, "127.0.0.1", port)
	socket.write(client, "ping")
	for _ = 1, 200 do
		if got then
			break
		end
		skynet.sleep(1)
	end
	assert(got == "re:ping", tostring(got))
	socket.close(client)
	skynet.error("PASS")
end)
