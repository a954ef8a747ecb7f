-- socket.close from one coroutine while another reads that socket: the
-- reader returns false and what had arrived (its close event finds no
-- socket any more, so close itself must wake it), and a later read on a
-- new socket works. (skynet.socketchannel closes a connection this way
-- when it changes host during its auth function.)
local skynet = require "skynet"
local socket = require "skynet.socket"

local accepted = {}

skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		accepted[#accepted + 1] = id
	end)
	local cid = assert(socket.open("127.0.0.1", port))
	while #accepted == 0 do
		skynet.sleep(1)
	end
	local sid = table.remove(accepted, 1)
	assert(socket.start(sid))
	socket.write(sid, "abc")

	local done, ok, rest = false, nil, nil
	skynet.fork(function()
		ok, rest = socket.read(cid, 10)
		done = true
	end)
	skynet.sleep(5)
	assert(not done, "the reader waits for ten bytes")
	socket.close(cid)
	for _ = 1, 100 do
		if done then
			break
		end
		skynet.sleep(1)
	end
	if not done then
		error "FAIL the reader of a closed socket was never woken"
	end
	if ok ~= false or rest ~= "abc" then
		error(string.format("FAIL the reader got %s, %q", tostring(ok), tostring(rest)))
	end
	socket.close(sid)
	skynet.error("PASS")
end)
