-- With lua_on_limit = retire, a service whose message breaks its
-- instruction budget or memory limit is retired, not only stopped: later
-- calls to it fail, and the node goes on.
local skynet = require "skynet"

local mode = ...

if mode == "bomb" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, what)
			if what == "ok" then
				skynet.retpack("alive")
			elseif what == "loop" then
				while true do end
			elseif what == "eat" then
				local t = {}
				while true do
					t[#t + 1] = string.rep("x", 4096) .. #t
				end
			end
		end)
	end)
else
	skynet.start(function()
		local which = assert(skynet.getenv "bomb")
		local bomb = skynet.newservice("retire_on_limit", "bomb")
		assert(skynet.call(bomb, "lua", "ok") == "alive")
		local ok = pcall(skynet.call, bomb, "lua", which)
		assert(not ok, "the bomb returned")
		if pcall(skynet.call, bomb, "lua", "ok") then
			skynet.error("FAIL: the bomb service still answers")
			return
		end
		-- The node itself is fine: a fresh service answers.
		local other = skynet.newservice("retire_on_limit", "bomb")
		assert(skynet.call(other, "lua", "ok") == "alive")
		skynet.error("PASS bomb " .. which .. " retired")
	end)
end
