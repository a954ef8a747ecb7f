-- sharetabled: skynet.sharetable's service where skynet.service is not
-- available (the lua55 build); the code is lualib/skynet/sharetable/server.lua.
local skynet = require "skynet"
local serve = require "skynet.sharetable.server"

skynet.start(serve)
