-- datacenter set/get/wait, and waiting on a branch fails.
local skynet = require "skynet"
local datacenter = require "skynet.datacenter"

skynet.start(function()
	datacenter.set("player", "alice", "level", 7)
	assert(datacenter.get("player", "alice", "level") == 7)
	assert(datacenter.get("player", "bob") == nil)
	local got
	skynet.fork(function()
		got = datacenter.wait("event", "ready")
	end)
	skynet.sleep(1)
	datacenter.set("event", "ready", "yes")
	skynet.sleep(1)
	assert(got == "yes", tostring(got))
	local ok, err = pcall(datacenter.wait, "player")
	assert(not ok and err:find("call failed"), tostring(err))
	skynet.error("PASS")
end)
