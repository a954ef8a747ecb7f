-- The stdin console tests' start service: starts skynet's console, as
-- skynet's examples/main.lua does, and says so.
local skynet = require "skynet"

skynet.start(function()
	skynet.newservice("console")
	skynet.error("MAIN READY")
end)
