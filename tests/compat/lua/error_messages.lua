-- The error messages of spec §2.
local skynet = require "skynet"

local fails = require("expect").fails

skynet.start(function()
	fails("call to invalid address", skynet.call, ".no_such_service", "lua", "x")
	fails("No session", skynet.ret)
	fails("Unsupport type function to serialize", skynet.pack, function() end)
	local deep = {}
	local t = deep
	for _ = 1, 40 do
		t[1] = {}
		t = t[1]
	end
	fails("serialize can't pack too depth table", skynet.pack, deep)
	fails("Invalid serialize stream", skynet.unpack, "\7")
	fails("Invalid serialize stream", skynet.unpack, "\x25\xff\xff\xff\x7f")
	skynet.setenv("compat_key", "1")
	fails("Can't setenv exist key", skynet.setenv, "compat_key", "2")
	assert(skynet.getenv("compat_key") == "1")
	skynet.error("PASS")
end)
