-- fork runs after the current handler, in FIFO order, with its arguments.
local skynet = require "skynet"

skynet.start(function()
	local order = {}
	skynet.fork(function(a, b) order[#order + 1] = a .. b end, "x", "y")
	skynet.fork(function() order[#order + 1] = "second" end)
	order[#order + 1] = "first"
	skynet.yield()
	assert(table.concat(order, ",") == "first,xy,second", table.concat(order, ","))
	skynet.error("PASS")
end)
