-- Starts a victim service and a debug console on console_address (127.0.0.1
-- unless set), port 0, and says where both are for the Rust client.
local skynet = require "skynet"

skynet.start(function()
	local victim = skynet.newservice("console_victim")
	skynet.error("VICTIM " .. skynet.address(victim))
	local address = skynet.getenv("console_address") or "127.0.0.1"
	local ok, err = pcall(skynet.newservice, "debug_console", address, 0)
	if ok then
		skynet.error("CONSOLE UP")
	else
		skynet.error("CONSOLE REFUSED " .. tostring(err))
	end
end)
