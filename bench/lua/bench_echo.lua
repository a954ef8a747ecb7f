-- bench_echo: the target of the send, call and flood benchmarks.
--   one-way messages (session 0) whose first value is a number are counted;
--   "expect" n: reply, then send "done" to the requester after n of them;
--   any request is answered with its own arguments.
local skynet = require "skynet"

local count = 0
local expect
local notify

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		if session == 0 then
			if type(cmd) == "number" then
				count = count + 1
				if count == expect then
					skynet.send(notify, "lua", "done")
				end
			end
			return
		end
		if cmd == "expect" then
			count = 0
			expect = ...
			notify = source
			skynet.ret()
		else
			skynet.retpack(cmd, ...)
		end
	end)
end)
