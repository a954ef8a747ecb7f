-- <close> variables run when a handler raises, when a service exits while a coroutine waits, and in the
-- coroutine that calls skynet.exit() itself (closed last, as skynet does).
local skynet = require "skynet"

local mode = ...

local function guard(report)
	return setmetatable({}, { __close = report })
end

if mode == "child" then
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, cmd, reporter)
			if cmd == "raise" then
				local g <close> = guard(function(_, err)
					skynet.send(reporter, "lua", "closed-on-error", tostring(err))
				end)
				error("raise inside a handler")
			elseif cmd == "wait" then
				skynet.fork(function()
					local g <close> = guard(function()
						skynet.send(reporter, "lua", "closed-on-exit")
					end)
					skynet.sleep(100000)
				end)
				skynet.ret()
			elseif cmd == "exit" then
				local g <close> = guard(function(_, err)
					skynet.send(reporter, "lua", "exiting-closed", tostring(err))
				end)
				skynet.exit()
			end
		end)
	end)
else
	local seen = {}
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, what, detail)
			seen[what] = detail or true
		end)
		local child = skynet.newservice("close_on_exit", "child")
		pcall(skynet.call, child, "lua", "raise", skynet.self())
		skynet.call(child, "lua", "wait", skynet.self())
		skynet.send(child, "lua", "exit", skynet.self())
		for _ = 1, 100 do
			if seen["closed-on-error"] and seen["closed-on-exit"] and seen["exiting-closed"] then
				break
			end
			skynet.sleep(1)
		end
		-- A raising handler's <close> gets the error, as Lua's
		-- coroutine.close gives it.
		assert(type(seen["closed-on-error"]) == "string"
			and seen["closed-on-error"]:find("raise inside a handler", 1, true),
			"closed on error with the error: " .. tostring(seen["closed-on-error"]))
		assert(seen["closed-on-exit"], "closed on exit")
		assert(seen["exiting-closed"] == "nil", "the exiting coroutine closed: " .. tostring(seen["exiting-closed"]))
		skynet.error("PASS")
	end)
end
