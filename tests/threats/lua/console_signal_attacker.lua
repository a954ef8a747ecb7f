-- An ordinary service (no kill grant) reaches for the console's own
-- module to break another service's code with a signal.
local skynet = require "skynet"
local console = require "skyhold.console"

local target = ...

skynet.start(function()
	local ok, err = pcall(console.signal, tonumber(target:sub(2), 16), 0)
	if ok then
		skynet.error("FAIL signal from an ordinary service was sent")
	else
		skynet.error("SIGNAL REFUSED " .. tostring(err):match("[^\n]*"))
	end
	skynet.exit()
end)
