-- <close> variables run when a handler raises and when a service exits
-- while a coroutine waits.
local skynet = require "skynet"

local mode = ...

if mode == "child" then
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, cmd, reporter)
			if cmd == "raise" then
				local guard <close> = setmetatable({}, { __close = function()
					skynet.send(reporter, "lua", "closed-on-error")
				end })
				error("raise inside a handler")
			elseif cmd == "wait" then
				skynet.fork(function()
					local guard <close> = setmetatable({}, { __close = function()
						skynet.send(reporter, "lua", "closed-on-exit")
					end })
					skynet.sleep(100000)
				end)
				skynet.ret()
			elseif cmd == "exit" then
				skynet.exit()
			end
		end)
	end)
else
	local seen = {}
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, what)
			seen[what] = true
		end)
		local child = skynet.newservice("close_on_exit", "child")
		pcall(skynet.call, child, "lua", "raise", skynet.self())
		skynet.call(child, "lua", "wait", skynet.self())
		skynet.send(child, "lua", "exit")
		for _ = 1, 100 do
			if seen["closed-on-error"] and seen["closed-on-exit"] then
				break
			end
			skynet.sleep(1)
		end
		assert(seen["closed-on-error"], "closed on error")
		assert(seen["closed-on-exit"], "closed on exit")
		skynet.error("PASS")
	end)
end
