-- Requires swap_mod in a fresh state and answers with where it came from,
-- or with the error require raised.
local skynet = require "skynet"

skynet.start(function()
	skynet.dispatch("lua", function()
		local ok, m = pcall(require, "swap_mod")
		skynet.retpack(ok and m.where or tostring(m))
		skynet.exit()
	end)
end)
