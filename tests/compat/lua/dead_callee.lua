-- Errors in a callee, a callee that exits while handling, calls and sends
-- to services that are gone.
local skynet = require "skynet"

local mode = ...

if mode == "callee" then
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, cmd)
			if cmd == "raise" then
				error("deliberate failure")
			elseif cmd == "exit" then
				skynet.exit()
			end
		end)
	end)
else
	skynet.start(function()
		local callee = skynet.newservice("dead_callee", "callee")
		local ok, err = pcall(skynet.call, callee, "lua", "raise")
		assert(not ok and err:find("call failed"), tostring(err))
		ok, err = pcall(skynet.call, callee, "lua", "exit")
		assert(not ok and err:find("call failed"), tostring(err))
		skynet.sleep(1)
		ok, err = pcall(skynet.call, callee, "lua", "raise")
		assert(not ok and err:find("call to invalid address"), tostring(err))
		assert(skynet.send(callee, "lua", "hello") == nil, "send to a dead service returns nil")
		skynet.error("PASS")
	end)
end
