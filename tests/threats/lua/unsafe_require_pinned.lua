local skynet = require "skynet"

skynet.start(function()
	assert(require("pinned_ok").value == 42, "a pinned module that matches loads")
	local ok, err = pcall(require, "pinned_tampered")
	assert(not ok and err:find("pinned_tampered", 1, true) and err:find("does not match its pin", 1, true), tostring(err))
	ok, err = pcall(require, "escape_link")
	assert(not ok and err:find("outside its search directory", 1, true), tostring(err))
	skynet.error("PASS")
end)
