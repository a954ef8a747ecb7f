-- package.path: it starts as the configured lua_path; a service may set it
-- to choose among the operator's lua_path and luaservice templates (skynet's
-- examples/protoloader.lua puts ./examples/?.lua first), and an entry that
-- is neither is not searched, which a failed require says.
local skynet = require "skynet"

skynet.start(function()
	local configured = package.path
	assert(configured:find("pkgpath/?.lua", 1, true), "package.path is the configured lua_path: " .. configured)
	assert(require("pkgpath_lib").where == "lua_path")
	assert(not pcall(require, "package_path_mod"), "not on lua_path")

	package.path = SERVICE_PATH .. "/?.lua;/tmp/?.lua;" .. configured
	assert(require("package_path_mod").where == "luaservice", "a luaservice template may be named")

	package.path = "/tmp/?.lua;" .. configured
	local ok, err = pcall(require, "no_such_module_anywhere")
	assert(not ok and err:find("not searched '/tmp/?.lua'", 1, true), tostring(err))
	package.path = configured
	skynet.error("PASS")
end)
