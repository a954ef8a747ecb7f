-- A service whose finalizers call skynet functions when its state closes.
-- Each object is made before the functions it calls are first built (before
-- `require "skynet"`), so Lua finalizes those functions' Rust closures
-- first when it closes the state.
local peer, mode = ...
peer = tonumber(peer)

local skynet, driver
local sleeper

local function guard(name, f)
	GUARDS = GUARDS or {}
	GUARDS[#GUARDS + 1] = setmetatable({}, {
		__gc = function()
			local ok, err = pcall(f)
			print("finalizer " .. name .. (ok and " ran" or (" raised " .. tostring(err))))
		end,
	})
end

-- A finalizer that never ends must not hold the worker forever. Made
-- first, it runs last (newest first), when the budget stops it.
guard("endless", function() while true do end end)
guard("error", function() skynet.error("finalizer says hello through skynet.error") end)
guard("wakeup", function() skynet.wakeup(sleeper) end)
guard("send", function() skynet.send(peer, "lua", "ping from a finalizer") end)
guard("self", function() return skynet.self() end)
guard("now", function() return skynet.now() end)
guard("timeout", function() skynet.timeout(1, function() end) end)
guard("socket", function() driver.close(12345) end)
guard("core", function()
	local c = require "skynet.core"
	c.error("finalizer says hello through skynet.core")
	c.wakeup(1)
end)

skynet = require "skynet"
driver = require "skynet.socketdriver"

if mode == "fail_boot" then
	-- Build the functions now, then fail the boot.
	skynet.error("victim fails its boot")
	driver.close(12345)
	skynet.now()
	error("victim boot fails on purpose")
end

skynet.start(function()
	skynet.fork(function()
		sleeper = coroutine.running()
		skynet.wait()
	end)
	skynet.dispatch("lua", function(_, _, what)
		if what == "alive" then
			skynet.ret(skynet.pack("alive"))
			return
		end
		-- Build the functions the finalizers call, after the objects.
		skynet.error("victim exits")
		driver.close(12345)
		skynet.timeout(1000, function() end)
		skynet.now()
		local t = coroutine.running()
		skynet.fork(function() skynet.wakeup(t) end)
		skynet.wait(t)
		skynet.ret(skynet.pack("exiting"))
		skynet.exit()
	end)
end)
