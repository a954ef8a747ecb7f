-- bench_sender: sends one-way messages as fast as it can.
--   "run" target n chunk [notify]: reply at once, then send n messages (the
--     numbers 1..n) to target, yielding after every chunk of them; when done
--     (or stopped), send "flood_done" to notify if given;
--   "stop": stop sending; reply with the number sent so far.
local skynet = require "skynet"

local sent = 0
local stopping = false

local function pump(target, n, chunk, notify)
	while sent < n and not stopping do
		local m = math.min(chunk, n - sent)
		local base = sent
		for i = 1, m do
			skynet.send(target, "lua", base + i)
		end
		sent = base + m
		if sent < n then
			skynet.yield()
		end
	end
	if notify then
		skynet.send(notify, "lua", "flood_done")
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, target, n, chunk, notify)
		if cmd == "run" then
			sent = 0
			stopping = false
			skynet.fork(pump, target, n, chunk, notify)
			skynet.ret()
		elseif cmd == "stop" then
			stopping = true
			skynet.retpack(sent)
		else
			error("bench_sender: unknown command " .. tostring(cmd))
		end
	end)
end)
