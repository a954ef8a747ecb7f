-- A service found as `svcdir/init.lua`: its `require` looks in its own
-- directory first, as skynet's loader arranges (test/testservice/ in skynet).
local skynet = require "skynet"
local helper = require "svcdir_helper"

skynet.start(function()
	skynet.dispatch("lua", function()
		skynet.ret(skynet.pack(helper.answer))
	end)
end)
