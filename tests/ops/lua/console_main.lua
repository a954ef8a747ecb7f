-- The stdin console tests' start service: starts skynet's console, as
-- skynet's examples/main.lua does, and a service that tries to pass its
-- own lines off as stdin's.
local skynet = require "skynet"

skynet.start(function()
	local console = skynet.newservice("console")
	skynet.newservice("console_forger", skynet.address(console))
	skynet.error("MAIN READY")
end)
