-- skynet.request():select — answers in arrival order, errors as false, and
-- a timeout that ends the loop early.
local skynet = require "skynet"

local mode = ...

if mode == "worker" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, delay, fail)
			skynet.sleep(delay)
			if fail then
				error("worker failed")
			end
			skynet.ret(skynet.pack(delay, "done"))
		end)
	end)
else
	skynet.start(function()
		local w = skynet.newservice("select", "worker")
		local req = skynet.request()
		req:add { w, "lua", 3 }
		req:add { w, "lua", 1 }
		req { w, "lua", 2, true }
		local order = {}
		for r, resp in req:select() do
			if resp then
				order[#order + 1] = tostring(resp[1]) .. resp[2]
			else
				order[#order + 1] = "err" .. r[3]
			end
		end
		assert(table.concat(order, ",") == "1done,err2,3done", table.concat(order, ","))

		local slow = skynet.request { w, "lua", 50 }
		local n = 0
		for _ in slow:select(5) do
			n = n + 1
		end
		assert(n == 0 and slow.timeout == true)
		skynet.error("PASS")
	end)
end
