-- debug RUN refused inside a system service (.launcher, .service) answers
-- the caller with an error, every time and at once: a refusal raised in a
-- Lua handler must never leave a call without a reply. The caller is an
-- ordinary service (the start service launches it); it lacks debug_run.
local skynet = require "skynet"

local mode = ...

local ROUNDS = 20
local BOUND = 100 -- ticks each call may take before it counts as lost

-- Calls debug RUN into `addr` in a fork; returns "failed" (the call raised),
-- "answered" (it returned: the refusal did not happen) or "lost" (no answer
-- within BOUND ticks).
local function probe(addr)
	local outcome
	skynet.fork(function()
		local ok = pcall(skynet.call, addr, "debug", "RUN", "print('pwned')", "inject.lua")
		outcome = ok and "answered" or "failed"
	end)
	local waited = 0
	while outcome == nil and waited < BOUND do
		skynet.sleep(1)
		waited = waited + 1
	end
	return outcome or "lost"
end

if mode == "prober" then
	skynet.start(function()
		-- Creates .service (and makes the first debug message to each target
		-- the lazy require of skynet.debug, part of what is probed).
		skynet.uniqueservice("debug_run_refused", "unique")
		local targets = {
			launcher = skynet.localname(".launcher"),
			service = skynet.localname(".service"),
		}
		assert(targets.launcher and targets.service, "system services found")
		for round = 1, ROUNDS do
			for name, addr in pairs(targets) do
				local r = probe(addr)
				if r ~= "failed" then
					skynet.error(string.format("FAIL: debug RUN into .%s round %d: %s", name, round, r))
					return
				end
			end
		end
		-- Refusals while both are busy: .launcher starting services and
		-- waiting in its own debug calls (MEM asks every service it
		-- started), .service holding a QUERY that waits and a LAUNCH.
		local busy = true
		skynet.fork(function()
			while busy do
				skynet.newservice("debug_run_refused", "idle")
			end
		end)
		skynet.fork(function()
			while busy do
				skynet.call(".launcher", "lua", "MEM")
			end
		end)
		skynet.fork(function()
			pcall(skynet.call, ".service", "lua", "QUERY", "debug_run_refused_never")
		end)
		-- Many refusals in flight at once, into both.
		local done, outcomes = 0, {}
		for i = 1, 2 * ROUNDS do
			local addr = (i % 2 == 0) and targets.launcher or targets.service
			skynet.fork(function()
				outcomes[i] = probe(addr)
				done = done + 1
			end)
		end
		local waited = 0
		while done < 2 * ROUNDS and waited < 2 * BOUND do
			skynet.sleep(1)
			waited = waited + 1
		end
		for i = 1, 2 * ROUNDS do
			if outcomes[i] ~= "failed" then
				skynet.error(string.format("FAIL: concurrent debug RUN %d: %s", i, tostring(outcomes[i])))
				return
			end
		end
		busy = false
		-- Both still serve.
		assert(skynet.call(targets.launcher, "debug", "PING") == nil)
		assert(skynet.call(targets.service, "lua", "LIST"))
		skynet.error("PASS")
	end)
elseif mode == "idle" then
	skynet.start(function() end)
elseif mode == "unique" then
	skynet.start(function()
		skynet.dispatch("lua", function() skynet.ret() end)
	end)
else
	skynet.start(function()
		skynet.newservice("debug_run_refused", "prober")
	end)
end
