-- Where skynet.datasheet's service is: made by skynet.service under the name
-- "datasheet", as skynet's builder makes it (datasheetd in the lua55 build).

-- Run by a service_cell; it may use no variable of this file.
local function datasheet_service()
	require("skynet.datasheet.server")()
end

return require("skynet.service.unique")("datasheet", datasheet_service, "datasheetd")
