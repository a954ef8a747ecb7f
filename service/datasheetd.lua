-- datasheetd: skynet.datasheet's service where skynet.service is not
-- available (the lua55 build); the code is lualib/skynet/datasheet/server.lua.
local skynet = require "skynet"
local serve = require "skynet.datasheet.server"

skynet.start(serve)
