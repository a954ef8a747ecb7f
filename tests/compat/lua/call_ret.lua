-- call / ret / retpack, multiple values, context(), and ret outside a request.
local skynet = require "skynet"

local mode = ...

if mode == "callee" then
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, cmd, a, b)
			local s, src = skynet.context()
			assert(s == session and src == source, "context")
			if cmd == "add" then
				skynet.ret(skynet.pack(a + b, "sum"))
			elseif cmd == "retpack" then
				skynet.retpack(a, nil, b)
			elseif cmd == "twice" then
				assert(skynet.ret(skynet.pack(1)) == true)
				local ok, err = pcall(skynet.ret, skynet.pack(2))
				assert(not ok and err:find("No session"), tostring(err))
			elseif cmd == "send" then
				-- a one-way message: ret reports false
				assert(skynet.ret() == false)
			end
		end)
	end)
else
	skynet.start(function()
		local callee = skynet.newservice("call_ret", "callee")
		local sum, word = skynet.call(callee, "lua", "add", 2, 40)
		assert(sum == 42 and word == "sum", "add")
		local x, y, z = skynet.call(callee, "lua", "retpack", "a", "b")
		assert(x == "a" and y == nil and z == "b", "retpack")
		assert(skynet.call(callee, "lua", "twice") == 1)
		skynet.send(callee, "lua", "send")
		local ok, err = pcall(skynet.ret)
		assert(not ok and err:find("No session"), "ret outside a request")
		skynet.error("PASS")
	end)
end
