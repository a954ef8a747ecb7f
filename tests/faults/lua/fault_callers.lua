-- The calling node of the fault tests: `fault_callers` coroutines call
-- @echo on node b in a loop (a failed call waits a tick before the next),
-- and one more sends to it with cluster.send every tick. Every 50 ms it logs
--   STAT ok=<calls answered> fail=<calls failed> out=<calls not yet returned>
--        calls=<clusterd's unanswered calls> held=<held requests> links=<links>
--        sent=<cluster.send calls that returned>
-- The test stops it with a `stop` message; it then waits for every call
-- still out, collects its garbage and logs DONE with the same fields and
-- mem=<KiB of Lua memory>. It logged BASE mem=<KiB> before the first call.
local skynet = require "skynet"
local cluster = require "skynet.cluster"
require "skynet.manager"

local callers = tonumber(skynet.getenv "fault_callers") or 20
local size = tonumber(skynet.getenv "fault_call_bytes") or 0
local ok, fail, out, sent = 0, 0, 0, 0
local running = true

local function line(tag, extra)
	local st = cluster.stat()
	skynet.error(string.format("%s ok=%d fail=%d out=%d calls=%d held=%d links=%d sent=%d%s",
		tag, ok, fail, out, st.calls, st.held, st.links, sent, extra or ""))
end

local function kib()
	collectgarbage "collect"
	return collectgarbage "count"
end

local function caller(i)
	local arg = size > 0 and string.rep("x", size) or i
	while running do
		out = out + 1
		local answered = pcall(cluster.call, "b", "@echo", arg)
		out = out - 1
		if answered then
			ok = ok + 1
		else
			fail = fail + 1
			skynet.sleep(1)
		end
	end
end

skynet.start(function()
	skynet.register ".fault_callers"
	cluster.reload { b = "127.0.0.1:" .. skynet.getenv "peer_port" }
	skynet.error(string.format("BASE mem=%.0f", kib()))
	for i = 1, callers do
		skynet.fork(caller, i)
	end
	skynet.fork(function()
		while running do
			cluster.send("b", "@echo", "push")
			sent = sent + 1
			skynet.sleep(1)
		end
	end)
	skynet.fork(function()
		while running do
			line "STAT"
			skynet.sleep(5)
		end
	end)
	skynet.dispatch("lua", function(_, _, cmd)
		if cmd ~= "stop" or not running then
			return
		end
		running = false
		-- Every call returns; the test bounds how long that may take.
		while out > 0 do
			skynet.sleep(1)
		end
		-- Links and agents settle, then the idle level is measured.
		skynet.sleep(20)
		line("DONE", string.format(" mem=%.0f", kib()))
	end)
end)
