-- Local names: register, look up, refuse a taken name loudly, and refuse to
-- name another service without a grant.
local skynet = require "skynet"
require "skynet.manager"

local mode = ...

if mode == "other" then
	skynet.start(function()
		local ok, err = pcall(skynet.register, ".shared")
		assert(not ok and err:find("already registered"), tostring(err))
		skynet.dispatch("lua", function() skynet.ret(skynet.pack("other")) end)
	end)
else
	skynet.start(function()
		skynet.register(".shared")
		assert(skynet.localname(".shared") == skynet.self())
		local other = skynet.newservice("names", "other")
		local ok, err = pcall(skynet.name, ".alias", other)
		assert(not ok and err:find("name_other"), tostring(err))
		assert(skynet.localname(".nothing") == nil)
		assert(skynet.call(other, "lua") == "other")
		skynet.error("PASS")
	end)
end
