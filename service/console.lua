-- skynet's `console` reads service names from the node's stdin and starts
-- them. skyhold does not give services the process's stdin (a service that
-- could read it could read what the operator types), so this one says so
-- once and leaves: a main that starts a console, as skynet's examples do,
-- boots on. The debug console (`debug_console`, with its `start` command
-- after a login) is the way to start services by hand.
local skynet = require "skynet"

skynet.start(function()
	skynet.error("console: skyhold does not read commands from stdin; start services with the debug console (debug_console) instead")
	skynet.exit()
end)
