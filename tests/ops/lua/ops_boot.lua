-- The ops tests' start service: a worker that keeps busy and echoes on a
-- socket, and a debug console on 127.0.0.1 (any port); says where both
-- listen for the Rust side. With `ops_clog` set, also a service whose
-- mailbox stays full for a while (ops_clog.lua).
local skynet = require "skynet"

skynet.start(function()
	local worker = skynet.newservice("ops_worker")
	skynet.error("WORKER " .. skynet.address(worker))
	if skynet.getenv("ops_clog") then
		skynet.newservice("ops_clog")
	end
	local ok, err = pcall(skynet.newservice, "debug_console", "127.0.0.1", 0)
	if ok then
		skynet.error("CONSOLE UP")
	else
		skynet.error("CONSOLE REFUSED " .. tostring(err))
	end
end)
