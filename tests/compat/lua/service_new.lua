-- skynet.service: new(name, mainfunc, ...) runs mainfunc in a new unique
-- service; new and query give the same address later; close retires it.
local skynet = require "skynet"
local service = require "skynet.service"

local function counter_main(start)
	local skynet = require "skynet"
	local count = tonumber(start) or 0
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, n)
			if cmd == "add" then
				count = count + n
			end
			skynet.retpack(count)
		end)
	end)
end

skynet.start(function()
	local a = service.new("counter", counter_main, 40)
	assert(skynet.call(a, "lua", "add", 2) == 42, "mainfunc ran with its argument")
	local b = service.new("counter", counter_main, 0)
	assert(a == b, "new with the same name gives the same service")
	assert(service.query("counter") == a, "query finds it")
	assert(skynet.call(b, "lua", "get") == 42, "still the same state")

	-- a function that captures a local of the enclosing code is refused
	local secret = 1
	local ok, err = pcall(service.new, "bad", function() return secret end)
	assert(not ok and tostring(err):find("bad", 1, true), tostring(err))

	-- a function made by load has no file to take its text from
	local made = load("return function() end")()
	ok, err = pcall(service.new, "loaded", made)
	assert(not ok, "a loaded function was accepted")

	assert(service.close("counter"), "close")
	skynet.sleep(10)
	assert(not pcall(skynet.call, a, "lua", "get"), "closed service still answers")
	skynet.error("PASS")
end)
