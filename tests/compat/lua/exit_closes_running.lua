-- skynet.exit closes the coroutine that called it: its pending <close>
-- variables run (with no error object), in skynet.start's function as in a
-- handler. skynet's test/testtobeclosed.lua shows the same. The closes log
-- "closed <name> with nil"; the Rust side checks those lines.
local skynet = require "skynet"

local mode = ...

local function guard(name)
	return setmetatable({}, { __close = function(_, err)
		skynet.error("closed " .. name .. " with " .. tostring(err))
	end })
end

if mode == "start" then
	skynet.start(function()
		local g <close> = guard("start-guard")
		skynet.exit()
	end)
elseif mode == "handler" then
	skynet.start(function()
		skynet.dispatch("lua", function()
			local outer <close> = guard("handler-outer")
			local function inner()
				local g <close> = guard("handler-inner")
				skynet.exit()
			end
			inner()
		end)
	end)
else
	skynet.start(function()
		local child = skynet.newservice("exit_closes_running", "start")
		assert(child == nil, "a service that exits in start gives nil")
		child = skynet.newservice("exit_closes_running", "handler")
		local ok = pcall(skynet.call, child, "lua", "exit")
		assert(not ok, "the call to a service that exits fails")
		skynet.sleep(1)
		skynet.error("PASS")
	end)
end
