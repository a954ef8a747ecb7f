-- service_cell: one service made by skynet.service.new. Its first message
-- (from service_provider) is `init(id, ...)`: the number of the main
-- function's sealed source text, which only this service can open. The
-- function is compiled from that text (mode "t") in this service and run
-- with the arguments; the `skynet.start` function it gives runs right after.
-- service_cell is an ordinary service: it runs user code.
local skynet = require "skynet"
local code = require "skyhold.code"

local started = false

local function init(id, ...)
	local main, err = code.unseal(id)
	if not main then
		error(err, 0)
	end
	local start_func
	skynet.start = function(f)
		start_func = f
	end
	skynet.dispatch("lua", function()
		error("No dispatch function")
	end)
	main(...)
	if start_func then
		start_func()
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd ~= "init" or started then
			error("service_cell: init expected")
		end
		local ok, err = xpcall(init, debug.traceback, ...)
		if ok then
			started = true
			skynet.retpack(true)
		else
			skynet.retpack(false, tostring(err))
		end
	end)
end)
