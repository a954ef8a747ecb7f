-- bench_gate_agent: echoes the packets the gate forwards for one connection,
-- framed with a 2-byte big-endian length.
--   "start" gate fd: ask the gate to forward fd's packets here;
--   "close": exit.
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
	dispatch = function(fd, _, msg)
		-- The session field carries the socket id: there is nothing to answer.
		skynet.ignoreret()
		socket.write(fd, string.pack(">s2", msg))
	end,
}

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, gate, fd)
		if cmd == "start" then
			skynet.call(gate, "lua", "forward", fd)
			skynet.ret()
		elseif cmd == "close" then
			skynet.exit()
		end
	end)
end)
