-- skynet.memlimit in the main chunk: the service says so once it is set,
-- an allocation past it fails inside the service, and it is set only once.
local skynet = require "skynet"

skynet.memlimit(1024 * 1024)
local again = pcall(skynet.memlimit, 2048 * 1024)
assert(not again, "memlimit set twice")

skynet.start(function()
	local t = {}
	local ok, err = pcall(function()
		for i = 1, 1e6 do
			t[i] = {}
		end
	end)
	assert(not ok and tostring(err):find("not enough memory"), tostring(err))
	t = nil
	collectgarbage()
	skynet.error("PASS")
end)
