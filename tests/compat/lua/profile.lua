-- skynet.profile as skynet's testcoroutine uses it, with skynet.coroutine.
local skynet = require "skynet"
local rawco = coroutine
local coroutine = require "skynet.coroutine"
local profile = require "skynet.profile"

local steps = {}

local function test(n)
	for i = 1, n do
		skynet.sleep(10)
		coroutine.yield(i)
	end
end

local function main()
	local f = coroutine.wrap(test)
	coroutine.yield "begin"
	for _ = 1, 3 do
		steps[#steps + 1] = f(5)
	end
	coroutine.yield "end"
	return profile.stop(coroutine.thread())
end

skynet.start(function()
	profile.start()
	local ok, err = pcall(profile.start)
	assert(not ok and err:find("start profile more than once", 1, true), tostring(err))

	local f = coroutine.wrap(main)
	assert(f() == "begin")
	assert(f() == "end")
	local seconds = f()
	-- three sleeps of 0.1 s inside, none of them counted (as in skynet)
	assert(type(seconds) == "number" and seconds >= 0 and seconds < 0.1, tostring(seconds))
	assert(table.concat(steps, ",") == "1,2,3")
	ok, err = pcall(profile.stop)
	assert(not ok and err:find("Call profile.start() before profile.stop()", 1, true), tostring(err))

	-- profile.resume counts only the time the coroutine runs.
	local co = rawco.create(function()
		local x = 0
		for i = 1, 100000 do
			x = x + i
		end
		rawco.yield(x)
		return "done"
	end)
	profile.start(co)
	local r1, v1 = profile.resume(co)
	assert(r1 and v1 == 5000050000)
	skynet.sleep(20)
	local r2, v2 = profile.resume(co)
	assert(r2 and v2 == "done")
	local ran = profile.stop(co)
	assert(ran > 0 and ran < 0.15, "the sleep was counted: " .. ran)

	-- A framework wait of the counted coroutine itself is not counted.
	profile.start()
	skynet.sleep(20)
	local slept = profile.stop()
	assert(slept >= 0 and slept < 0.1, "the framework's sleep was counted: " .. slept)

	-- profile.wrap raises the coroutine's error.
	local w = profile.wrap(function() error("boom") end)
	ok, err = pcall(w)
	assert(not ok and err:find("boom", 1, true), tostring(err))
	skynet.error("PASS")
end)
