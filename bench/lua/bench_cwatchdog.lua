-- bench_cwatchdog: watchdog of skynet's native gate (skynet.launch("gate")):
-- reads its text reports, starts one bench_gate_agent per connection and
-- tells the gate to forward the connection there.
--   "start" port maxclient: launch the gate listening on 127.0.0.1:port.
local skynet = require "skynet"
require "skynet.manager"

local gate
local agents = {}

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(text) return text end,
	unpack = skynet.tostring,
	dispatch = function(_, _, text)
		local fd, what = text:match("^(%d+) (%a+)")
		fd = tonumber(fd)
		if what == "open" then
			local agent = skynet.newservice "bench_gate_agent"
			agents[fd] = agent
			skynet.send(gate, "text", string.format("forward %d %s :00000000", fd, skynet.address(agent)))
			skynet.send(gate, "text", "start " .. fd)
		elseif what == "close" then
			local agent = agents[fd]
			agents[fd] = nil
			if agent then
				skynet.send(agent, "lua", "close")
			end
		end
	end,
}

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, port, maxclient)
		if cmd == "start" then
			gate = skynet.launch("gate", "S", skynet.address(skynet.self()), "127.0.0.1:" .. port, 0, maxclient)
			skynet.retpack(gate ~= nil)
		end
	end)
end)
