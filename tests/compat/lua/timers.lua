-- sleep / timeout / wait / wakeup ordering, BREAK, now().
local skynet = require "skynet"

skynet.start(function()
	local order = {}
	skynet.timeout(3, function() order[#order + 1] = "t3" end)
	skynet.timeout(1, function() order[#order + 1] = "t1" end)
	skynet.timeout(2, function() order[#order + 1] = "t2" end)
	local t0 = skynet.now()
	skynet.sleep(5)
	assert(skynet.now() - t0 >= 5, "slept at least 5 ticks")
	assert(table.concat(order, ",") == "t1,t2,t3", table.concat(order, ","))

	local sleeper
	local result
	sleeper = skynet.fork(function()
		result = skynet.sleep(1000, "tok")
	end)
	skynet.yield()
	assert(skynet.wakeup("tok") == true)
	assert(skynet.wakeup("nobody") == nil)
	skynet.sleep(1)
	assert(result == "BREAK", tostring(result))

	local woke = false
	local co
	skynet.fork(function()
		co = coroutine.running()
		skynet.wait()
		woke = true
	end)
	skynet.yield()
	assert(not woke)
	skynet.wakeup(co)
	skynet.yield()
	assert(woke, "wait woken")
	assert(type(skynet.time()) == "number" and skynet.starttime() > 0)
	-- skynet.time() is the wall clock (starttime plus the tick, which starts
	-- at the boot second's centiseconds), not up to a second behind it.
	for _ = 1, 15 do
		local before, t, after = os.time(), skynet.time(), os.time()
		if before == after then
			assert(t >= before - 0.02 and t < before + 1.02,
				string.format("skynet.time() %.2f against os.time() %d", t, before))
		end
		skynet.sleep(7)
	end
	skynet.error("PASS")
end)
