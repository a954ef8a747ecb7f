-- Deferred replies with skynet.response: answered later, TEST, twice, false.
local skynet = require "skynet"

local mode = ...

if mode == "callee" then
	local pending = {}
	skynet.start(function()
		skynet.dispatch("lua", function(session, source, cmd)
			if cmd == "later" then
				local r = skynet.response()
				assert(r("TEST") == true)
				skynet.timeout(2, function()
					assert(r(true, "late answer") == true)
					assert(r("TEST") == false)
					local ok, err = pcall(r, true, "again")
					assert(not ok and err:find("Can't response more than once"), tostring(err))
				end)
			elseif cmd == "fail" then
				local r = skynet.response()
				skynet.fork(function() r(false) end)
			end
		end)
	end)
else
	skynet.start(function()
		local callee = skynet.newservice("response", "callee")
		assert(skynet.call(callee, "lua", "later") == "late answer")
		local ok, err = pcall(skynet.call, callee, "lua", "fail")
		assert(not ok and err:find("call failed"), tostring(err))
		skynet.error("PASS")
	end)
end
