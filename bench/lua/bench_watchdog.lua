-- bench_watchdog: owns a `gate` service and starts one bench_gate_agent per
-- connection.
--   "start" conf: launch the gate's listener (conf is gate's "open" table);
--   "socket" events from the gate: open / close / error / warning / data.
local skynet = require "skynet"

local gate
local agents = {}

local SOCKET = {}

function SOCKET.open(fd)
	local agent = skynet.newservice "bench_gate_agent"
	agents[fd] = agent
	skynet.call(agent, "lua", "start", gate, fd)
end

local function drop(fd)
	local agent = agents[fd]
	agents[fd] = nil
	if agent then
		skynet.send(agent, "lua", "close")
	end
end

SOCKET.close = drop
SOCKET.error = drop

function SOCKET.warning() end

function SOCKET.data() end

skynet.start(function()
	skynet.dispatch("lua", function(session, _, cmd, sub, ...)
		if cmd == "socket" then
			local f = SOCKET[sub]
			if f then
				f(...)
			end
		elseif cmd == "start" then
			skynet.retpack(skynet.call(gate, "lua", "open", sub))
		elseif session ~= 0 then
			error("bench_watchdog: unknown command " .. tostring(cmd))
		end
	end)
	gate = skynet.newservice "gate"
end)
