-- The start service of tests/compat/skynet_config/config, a config shaped
-- like skynet's examples/config (harbor 1, a master, an address): the node
-- boots on its own, with global names working within it and snax files
-- found on the config's `snax` path.
local skynet = require "skynet"
require "skynet.manager"
local snax = require "skynet.snax"

local mode = ...

if mode == "named" then
	skynet.start(function()
		skynet.dispatch("lua", function() skynet.retpack("by global name") end)
		skynet.register("CONFIG_GLOBAL")
	end)
else
	skynet.start(function()
		assert(skynet.getenv "harbor" == "1", "harbor as configured")
		assert(skynet.getenv "standalone" == "true", "a node on its own: " .. tostring(skynet.getenv "standalone"))
		assert(skynet.self() >> 24 == 1, "handles carry harbor 1")
		assert(skynet.getenv "master" == "127.0.0.1:2013", "ignored keys still read as written")
		skynet.newservice("skynet_config", "named")
		assert(skynet.call("CONFIG_GLOBAL", "lua") == "by global name")
		local obj = snax.newservice("snax_counter", 3)
		assert(obj.req.get() == 3, "snax from the snax path")
		skynet.error("PASS skynet_config")
	end)
end
