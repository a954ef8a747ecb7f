-- Callers left waiting on a service that exits, is killed, raises, runs
-- out of memory, or waits on one that does: every caller gets an error,
-- none waits forever. Logs PASS, or FAIL with what went wrong.
local skynet = require "skynet"
require "skynet.manager"

local mode = ...

if mode == "callee" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, arg)
			if cmd == "wait" then
				skynet.sleep(1000000)
				skynet.ret(skynet.pack("too late"))
			elseif cmd == "exit" then
				skynet.exit()
			elseif cmd == "raise" then
				error("deliberate failure")
			elseif cmd == "grow" then
				local t = {}
				for i = 1, 1e9 do
					t[i] = string.rep("x", 64) .. i
				end
			elseif cmd == "bare_yield" then
				coroutine.yield()
			elseif cmd == "call_wait" then
				skynet.ret(skynet.pack(skynet.call(arg, "lua", "wait")))
			elseif cmd == "name" then
				skynet.register(arg)
				skynet.ret(skynet.pack(true))
			end
		end)
	end)
	return
end

local failures = {}

local function check(what, cond)
	if not cond then
		failures[#failures + 1] = what
	end
end

-- n calls of `cmd` to `callee`, each in its own coroutine; their results.
local function calls(callee, n, cmd, arg)
	local results = {}
	for i = 1, n do
		skynet.fork(function()
			results[i] = table.pack(pcall(skynet.call, callee, "lua", cmd, arg))
		end)
	end
	return results
end

-- Waits (at most 5 s) until all n results are in; true if they all failed.
local function all_failed(results, n)
	for _ = 1, 500 do
		local done = 0
		for i = 1, n do
			if results[i] then
				done = done + 1
			end
		end
		if done == n then
			for i = 1, n do
				if results[i][1] then
					return false
				end
			end
			return true
		end
		skynet.sleep(1)
	end
	return false
end

local function callee()
	return skynet.newservice(SERVICE_NAME, "callee")
end

skynet.start(function()
	-- It exits while ten calls wait inside it.
	local c = callee()
	local r = calls(c, 10, "wait")
	skynet.sleep(5)
	skynet.send(c, "lua", "exit")
	check("exit: every waiting caller gets an error", all_failed(r, 10))

	-- It raises: that call fails, the service goes on.
	c = callee()
	check("raise: the call fails", not pcall(skynet.call, c, "lua", "raise"))
	local ok = pcall(skynet.call, c, "lua", "name", ".still_here")
	check("raise: the service goes on", ok)

	-- A handler that yields to nothing the runtime knows is dropped; its
	-- caller gets an error rather than waiting for the service to exit.
	c = callee()
	check("bare yield: the call fails", not pcall(skynet.call, c, "lua", "bare_yield"))

	-- It runs out of memory: that call fails, and the calls waiting inside
	-- it fail with it if it is retired.
	c = callee()
	r = calls(c, 5, "wait")
	skynet.sleep(5)
	check("memory: the growing call fails", not pcall(skynet.call, c, "lua", "grow"))

	-- A chain: a calls b, b waits on c; c exits, so b's call fails, b's
	-- handler raises, and a's call fails.
	local b, cc = callee(), callee()
	r = calls(b, 3, "call_wait", cc)
	skynet.sleep(5)
	skynet.send(cc, "lua", "exit")
	check("chain: callers of a caller of an exited service get errors", all_failed(r, 3))

	-- It is killed (by the test, through the node) while ten calls wait
	-- inside it and more are queued behind them.
	local victim = callee()
	skynet.call(victim, "lua", "name", ".victim")
	r = calls(victim, 20, "wait")
	skynet.sleep(5)
	skynet.error("KILL_VICTIM")
	check("kill: every waiting caller gets an error", all_failed(r, 20))

	-- A native service panics on every message, more times than the node
	-- has workers: each call fails, and the node goes on serving.
	local panicky = skynet.localname ".panicky"
	check("panic: the native service is there", panicky ~= nil)
	for i = 1, 8 do
		check("panic: call " .. i .. " fails", not pcall(skynet.call, panicky, "lua", "boom"))
	end
	c = callee()
	check("panic: the node still serves", pcall(skynet.call, c, "lua", "name", ".after_panics"))

	if #failures == 0 then
		skynet.error("PASS")
	else
		skynet.error("FAIL " .. table.concat(failures, "; "))
	end
end)
