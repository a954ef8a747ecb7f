-- skynet.task and skynet.trace_timeout as skynet's testtimer uses them:
-- pending timeouts are tasks; skynet.task(t) keys are "<thread> session: <n>";
-- with trace_timeout on, a timeout's entry is where it was set.
local skynet = require "skynet"

local function set_traced_timeout()
	return skynet.timeout(500, function() end)
end

skynet.start(function()
	assert(type(skynet.task("init")) == "string", "the start function is the init task")

	-- As on skynet, turning tracing off forgets the traces: turn it on after
	-- the plain timeout and leave it on.
	local plain = skynet.timeout(500, function() end)
	skynet.trace_timeout(true)
	local traced = set_traced_timeout()

	local sleeper
	skynet.fork(function()
		sleeper = coroutine.running()
		skynet.sleep(500)
	end)
	skynet.yield()

	assert(skynet.task() >= 3, "count: " .. skynet.task())

	local t = {}
	skynet.task(t)
	local found = {}
	for key, info in pairs(t) do
		local thread, session = key:match("^(thread: %S+) session: (%d+)$")
		assert(thread, "key: " .. tostring(key))
		session = tonumber(session)
		if thread == tostring(traced) then
			assert(info:find("^TIMER %d+%+500 : \nstack traceback:"), info)
			assert(info:find("task_trace.lua", 1, true), info)
			assert(skynet.task(session) == info)
			assert(skynet.task(traced) == session)
			found.traced = true
		elseif thread == tostring(plain) then
			assert(not info:find("TIMER", 1, true), info)
			assert(skynet.task(plain) == session)
			found.plain = true
		elseif thread == tostring(sleeper) then
			assert(skynet.task(sleeper) == session)
			found.sleeper = true
		end
	end
	assert(found.traced and found.plain and found.sleeper, "missing tasks")
	assert(skynet.task(0x7ffffff0) == "No session")

	-- A timeout that fired is no longer a task.
	local fired = false
	local quick = skynet.timeout(1, function() fired = true end)
	assert(skynet.task(quick))
	skynet.sleep(5)
	assert(fired and skynet.task(quick) == nil, "a fired timeout is still listed")
	skynet.error("PASS")
end)
