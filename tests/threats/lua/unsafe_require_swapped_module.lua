-- A module loaded once, then swapped on disk for a link out of its
-- directory: every new service must see the swap, none may get the text
-- the node read before. The test swaps the file once FIRST LOADED is logged.
local skynet = require "skynet"

local function probe()
	return skynet.call(skynet.newservice("unsafe_require_swap_probe"), "lua")
end

skynet.start(function()
	local first = probe()
	if first ~= "inside" then
		skynet.error("FAIL: the first load gave " .. tostring(first))
		return
	end
	skynet.error("FIRST LOADED")
	for _ = 1, 1000 do
		local r = probe()
		if r ~= "inside" then
			if r:find("outside its search directory", 1, true) then
				skynet.error("PASS")
			else
				skynet.error("FAIL: " .. r)
			end
			return
		end
		skynet.sleep(1)
	end
	skynet.error("FAIL: the module swapped for a link out of its directory was still served")
end)
