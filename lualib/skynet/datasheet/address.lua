-- Where skynet.datasheet's service is: made by skynet.service under the name
-- "datasheet", as skynet's builder makes it (the lua55 build, which has no
-- skynet.service, runs the same code as the unique service datasheetd).
local skynet = require "skynet"
local service = require "skynet.service"

-- Run by a service_cell; it may use no variable of this file.
local function datasheet_service()
	require("skynet.datasheet.server")()
end

local address

return function()
	if not address then
		if _VERSION == "Lua 5.4" then
			address = service.new("datasheet", datasheet_service)
		else
			address = skynet.uniqueservice "datasheetd"
		end
	end
	return address
end
