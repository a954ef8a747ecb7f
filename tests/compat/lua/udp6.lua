-- UDP on ::1. A server bound to ::1 answers each datagram to its sender; a
-- client made by socket.udp_dial("::1", port) must get an IPv6 socket (as
-- skynet's udp_dial does), so the two can talk both ways. The address blob
-- is skynet's byte for byte (type 2, port in network order, 16 address
-- bytes), and an address of the other family is refused by sendto (skynet:
-- "type mismatch", sendto returns false) without closing the socket.
local skynet = require "skynet"
local socket = require "skynet.socket"

local function wait_for(get)
	for _ = 1, 200 do
		local v = get()
		if v then
			return v
		end
		skynet.sleep(1)
	end
end

skynet.start(function()
	local server, client_port, client_seen
	local function answer(data, from)
		local ip, port = socket.udp_address(from)
		assert(ip == "::1", "sender ip " .. tostring(ip))
		assert(#from == 19, "v6 blob is 19 bytes, not " .. #from)
		assert(from:byte(1) == 2, "v6 blob type byte is PROTOCOL_UDPv6 (2)")
		assert(from:byte(2) * 256 + from:byte(3) == port, "port in network order")
		assert(from:sub(4) == string.rep("\0", 15) .. "\1", "address bytes are ::1")
		client_port, client_seen = port, from
		assert(socket.sendto(server, from, "re:" .. data), "server sendto")
	end
	local addr, port
	server, addr, port = socket.udp(answer, "::1", 0)
	assert(addr == "::1" and port > 0, "udp returns the bound v6 address")

	local got, got_from
	local client = socket.udp_dial("::1", port, function(data, from)
		got, got_from = data, from
	end)
	socket.write(client, "ping")
	assert(wait_for(function() return got end) == "re:ping", "client got " .. tostring(got))
	local ip, from_port = socket.udp_address(got_from)
	assert(ip == "::1" and from_port == port, "answer comes from the server's ::1 port")
	assert(client_port and client_port > 0 and client_seen, "server saw the client")

	-- The other family: a v4 socket refuses a v6 blob, a v6 socket a v4
	-- blob; each stays open and still sends to its own family.
	local v4got
	local v4 = socket.udp(function(data) v4got = data end, "127.0.0.1", 0)
	assert(socket.sendto(v4, client_seen, "wrong family") == false, "v4 sendto v6 refused")
	local v4peer, _, v4bound = socket.udp(function() end, "127.0.0.1", 0)
	local v4blob = string.pack(">BI2", 1, v4bound) .. "\127\0\0\1"
	assert(select(2, socket.udp_address(v4blob)) == v4bound, "v4 blob layout")
	assert(socket.sendto(server, v4blob, "wrong family") == false, "v6 sendto v4 refused")
	assert(socket.sendto(v4, v4blob, "still open"), "v4 socket still sends v4")
	socket.close(v4peer)
	got = nil
	socket.write(client, "again")
	assert(wait_for(function() return got end) == "re:again", "v6 pair still talks")
	assert(v4got == nil)
	socket.close(v4)
	socket.close(client)
	socket.close(server)
	skynet.error("PASS")
end)
