-- A task that raises has its <close> variables closed with the error
-- object (as coroutine.close does), and its error is logged once; the
-- coroutine is then reused cleanly. skynet's test/testtobeclosed.lua shows
-- the same.
local skynet = require "skynet"

local closed = {}

local function guard(name)
	return setmetatable({}, { __close = function(_, err)
		closed[name] = err == nil and "nil" or err
		skynet.error("closed " .. name .. " with " .. tostring(err))
	end })
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd)
		if cmd == "raise" then
			local g <close> = guard("handler")
			error("handler raised")
		elseif cmd == "raise_table" then
			local g <close> = guard("handler_table")
			error({ why = "a table" })
		elseif cmd == "raise_runtime" then
			-- Raised by the VM in the handler's own frame, not by `error`.
			local g <close> = guard("handler_runtime")
			local t = nil
			return t.field
		end
		skynet.ret(skynet.pack("ok"))
	end)
	skynet.fork(function()
		local g <close> = guard("fork")
		error("fork raised")
	end)
	local ok = pcall(skynet.call, skynet.self(), "lua", "raise")
	assert(not ok, "the call fails")
	ok = pcall(skynet.call, skynet.self(), "lua", "raise_table")
	assert(not ok, "the call fails")
	ok = pcall(skynet.call, skynet.self(), "lua", "raise_runtime")
	assert(not ok, "the call fails")
	skynet.sleep(0)
	assert(type(closed.handler_runtime) == "string"
		and closed.handler_runtime:find("attempt to index", 1, true),
		"handler closed with " .. tostring(closed.handler_runtime))
	assert(type(closed.fork) == "string" and closed.fork:find("fork raised", 1, true),
		"fork closed with " .. tostring(closed.fork))
	assert(type(closed.handler) == "string" and closed.handler:find("handler raised", 1, true),
		"handler closed with " .. tostring(closed.handler))
	assert(type(closed.handler_table) == "table" and closed.handler_table.why == "a table",
		"handler closed with " .. tostring(closed.handler_table))
	-- The pooled coroutines still work.
	for _ = 1, 3 do
		assert(skynet.call(skynet.self(), "lua", "ok") == "ok")
	end
	skynet.error("PASS")
end)
