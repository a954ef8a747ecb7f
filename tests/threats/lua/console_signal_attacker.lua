-- An ordinary service (no kill grant) reaches for the console's own
-- module to break another service's code with a signal, and to write
-- audit lines in the console's name.
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
	if pcall(console.audit, "alice@127.0.0.1:1", "\"kill :00000001\"") then
		skynet.error("FAIL a forged console audit line was written")
	end
	if pcall(console.refused, "mallory", "kill", "forged") then
		skynet.error("FAIL a forged console refusal was written")
	end
	skynet.error("AUDIT FORGERY REFUSED")
	skynet.exit()
end)
