-- Sends the console a line in the form the runtime brings stdin's, hoping
-- it starts a service for it. The console takes lines only from source 0.
local skynet = require "skynet"

local console = ...

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(text)
		return text
	end,
}

skynet.start(function()
	skynet.send(console, "text", "Lconsole_hello forged")
	skynet.error("FORGED LINE SENT")
end)
