-- socket.shutdown as skynet has it: the connection ends at once, but the
-- service keeps its socket until it calls socket.close. A coroutine
-- blocked reading wakes with false, what arrived before stays readable,
-- the id stays valid (disconnected, not invalid), and socket.close
-- afterwards returns at once and forgets it.
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

skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		accepted[#accepted + 1] = id
	end)

	-- A reader blocked on the socket wakes when another coroutine shuts it.
	local cid, sid = connect(port)
	local woke
	skynet.fork(function()
		local ok, rest = socket.read(sid, 10)
		woke = { ok, rest }
	end)
	skynet.sleep(5)
	socket.shutdown(sid)
	expect(socket.invalid(sid), false, "invalid right after shutdown")
	for _ = 1, 200 do
		if woke then
			break
		end
		skynet.sleep(1)
	end
	assert(woke, "the blocked reader never woke after shutdown")
	expect(woke[1], false, "the blocked read's result")
	expect(woke[2], "", "what the blocked read had")
	expect(socket.invalid(sid), false, "invalid before close")
	expect(socket.disconnected(sid), true, "disconnected after shutdown")
	expect(socket.read(sid), false, "a read after shutdown")
	socket.close(sid)
	expect(socket.invalid(sid), true, "invalid after close")
	-- the peer sees the end of the connection
	expect(socket.read(cid), false, "the peer's read")
	socket.close(cid)

	-- What arrived before the shutdown can still be read.
	cid, sid = connect(port)
	socket.write(cid, "abc")
	expect(socket.read(sid, 3), "ab" .. "c", "data before shutdown")
	socket.write(cid, "tail")
	skynet.sleep(10)
	socket.shutdown(sid)
	skynet.sleep(10)
	expect(socket.read(sid), "tail", "buffered data after shutdown")
	expect(socket.read(sid), false, "then the end")
	socket.close(sid)
	socket.close(cid)

	-- socket.close right after shutdown returns once the close is done.
	cid, sid = connect(port)
	socket.shutdown(sid)
	socket.close(sid)
	expect(socket.invalid(sid), true, "invalid after shutdown and close")
	socket.close(cid)

	print("socket_shutdown: all checks passed")
	skynet.error("PASS")
end)
