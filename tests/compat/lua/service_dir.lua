-- A service found through a `dir/?/init.lua` luaservice pattern requires
-- modules from its own directory; other services do not see them.
local skynet = require "skynet"

skynet.start(function()
	local s = skynet.newservice("svcdir")
	assert(skynet.call(s, "lua") == "from the service's directory")
	local ok = pcall(require, "svcdir_helper")
	assert(not ok, "the start service does not search svcdir's directory")
	skynet.error("PASS")
end)
