local skynet = require "skynet"

local mode = ...

if mode == "target" then
	skynet.start(function()
		skynet.dispatch("lua", function() skynet.ret() end)
	end)
else
	skynet.start(function()
		local t = skynet.newservice("debug_injection_operator", "target")
		local ok, out = skynet.call(t, "debug", "RUN", "print(6 * 7)", "probe.lua")
		assert(ok, tostring(out))
		skynet.error("RUN output: " .. tostring(out))
		-- Precompiled code is refused even with the grant.
		local ok2, err = skynet.call(t, "debug", "RUN", "\27Lua\84\0", "binary.lua")
		assert(ok2 == false and tostring(err):find("binary"), tostring(err))
		skynet.error("PASS")
	end)
end
