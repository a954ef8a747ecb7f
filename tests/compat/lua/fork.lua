-- fork runs after the current handler, in FIFO order, with its arguments.
local skynet = require "skynet"

skynet.start(function()
	local order = {}
	skynet.fork(function(a, b) order[#order + 1] = a .. b end, "x", "y")
	skynet.fork(function() order[#order + 1] = "second" end)
	-- A callable table runs like a function, with its arguments.
	local callable = setmetatable({}, { __call = function(_, v) order[#order + 1] = "table" .. v end })
	skynet.fork(callable, 1)
	-- A fork killed before it runs never runs.
	local killed = skynet.fork(function() order[#order + 1] = "killed" end)
	assert(coroutine.status(killed) == "suspended", coroutine.status(killed))
	skynet.killthread(killed)
	order[#order + 1] = "first"
	skynet.yield()
	assert(table.concat(order, ",") == "first,xy,second,table1", table.concat(order, ","))

	-- A task's return values are dropped, and its coroutine is reused for
	-- the next one with nothing of the last left behind.
	local seen = {}
	for i = 1, 100 do
		skynet.fork(function(...)
			assert(select("#", ...) == 1, "stale arguments in a reused coroutine")
			seen[#seen + 1] = ...
			return "ignored", i
		end, i)
		skynet.yield()
	end
	assert(#seen == 100 and seen[100] == 100, #seen)
	skynet.error("PASS")
end)
