-- skynet.socket's reads, with data arriving in pieces: read(n), readline
-- and read() across several data events, block, a read the peer's close
-- ends (false and what had arrived), readall until close, and a buffer
-- past socket.limit closing the socket.
local skynet = require "skynet"
local socket = require "skynet.socket"

local function expect(got, want, what)
	if got ~= want then
		error(string.format("%s: got %q, want %q", what, tostring(got), tostring(want)), 2)
	end
end

local accepted = {}

local function connect(port)
	local cid = assert(socket.open("127.0.0.1", port))
	while #accepted == 0 do
		skynet.sleep(1)
	end
	local sid = table.remove(accepted, 1)
	assert(socket.start(sid))
	return cid, sid
end

-- Writes each piece to `id`, a tick apart, in a forked coroutine.
local function trickle(id, pieces, close)
	skynet.fork(function()
		for _, p in ipairs(pieces) do
			skynet.sleep(1)
			socket.write(id, p)
		end
		if close then
			skynet.sleep(1)
			socket.close(id)
		end
	end)
end

skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		accepted[#accepted + 1] = id
	end)

	local cid, sid = connect(port)
	trickle(cid, { "1", "2", "3", "4", "5", "\n", "rest" })
	expect(socket.read(sid, 3), "123", "read(3) over three events")
	expect(socket.readline(sid), "45", "readline over three events")
	expect(socket.read(sid), "rest", "read() of what arrived")

	trickle(cid, { "x" })
	expect(socket.block(sid), true, "block until data")
	expect(socket.read(sid), "x", "read after block")

	trickle(cid, { "abc" }, true)
	local ok, rest = socket.read(sid, 10)
	expect(ok, false, "a read the close ends")
	expect(rest, "abc", "what arrived before the close")
	socket.close(sid)

	cid, sid = connect(port)
	trickle(cid, { "one ", "two" }, true)
	expect(socket.readall(sid), "one two", "readall until close")
	socket.close(sid)

	cid, sid = connect(port)
	socket.limit(sid, 8)
	trickle(cid, { "0123", "456789abcdef" })
	expect(socket.read(sid, 100), false, "a read past the limit")
	assert(socket.disconnected(sid), "the socket past its limit is closed")
	socket.close(cid)

	skynet.error("PASS")
end)
