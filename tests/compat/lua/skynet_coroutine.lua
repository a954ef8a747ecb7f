-- skynet.coroutine: user coroutines that make skynet calls inside, status
-- "blocked", yield/resume values, thread(), and plain coroutines refused.
local skynet = require "skynet"
local coroutine = require "skynet.coroutine"

local mode = ...

if mode == "echo" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, x)
			skynet.sleep(1)
			skynet.ret(skynet.pack(x * 2))
		end)
	end)
else
	skynet.start(function()
		local echo = skynet.newservice("skynet_coroutine", "echo")
		local co
		co = coroutine.create(function(a)
			local doubled = skynet.call(echo, "lua", a)
			local b = coroutine.yield(doubled)
			local main, plain = coroutine.thread(co)
			assert(plain == false and type(main) == "thread")
			return b + 1
		end)
		local watcher_saw
		skynet.fork(function()
			watcher_saw = coroutine.status(co)
		end)
		local ok, v = coroutine.resume(co, 21)
		assert(ok and v == 42, tostring(v))
		assert(watcher_saw == "blocked", tostring(watcher_saw))
		assert(coroutine.status(co) == "suspended")
		ok, v = coroutine.resume(co, 9)
		assert(ok and v == 10)
		assert(coroutine.status(co) == "dead")
		local plain = _G.coroutine and nil
		local raw = require("coroutine").create(function() end)
		local ok2, err = coroutine.resume(raw)
		assert(not ok2 and err == "cannot resume none skynet coroutine", tostring(err))
		local gen = coroutine.wrap(function()
			for i = 1, 3 do
				coroutine.yield(i)
			end
		end)
		assert(gen() == 1 and gen() == 2 and gen() == 3)
		-- A coroutine that returns nothing gives nothing, not nil.
		assert(select("#", coroutine.wrap(function() end)()) == 0)
		local r = table.pack(coroutine.resume(coroutine.create(function() end)))
		assert(r.n == 1 and r[1] == true, "resume of an empty return: " .. r.n)
		skynet.error("PASS")
	end)
end
