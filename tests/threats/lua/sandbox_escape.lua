local skynet = require "skynet"

local function absent(name, v)
	assert(v == nil, name .. " must not be reachable")
end

local function refused(name, f, ...)
	local ok, err = pcall(f, ...)
	assert(not ok, name .. " must fail")
	return tostring(err)
end

skynet.start(function()
	absent("io", io)
	absent("os.execute", os.execute)
	absent("os.getenv", os.getenv)
	absent("os.exit", os.exit)
	absent("os.remove", os.remove)
	absent("dofile", dofile)
	absent("loadfile", loadfile)
	absent("string.dump", string.dump)
	absent("debug.getregistry", debug.getregistry)
	absent("debug.sethook", debug.sethook)
	absent("debug.getupvalue", debug.getupvalue)
	absent("package.loadlib", package.loadlib)
	absent("package.cpath", package.cpath)
	assert(getmetatable("") == false, "the string metatable is locked")
	-- Bytecode cannot be loaded, whatever mode is asked for.
	local bytecode = "\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64"
	for _, mode in ipairs { "b", "bt", "t" } do
		local f, err = load(bytecode, "x", mode)
		assert(f == nil and tostring(err):find("binary"), mode .. ": " .. tostring(err))
	end
	-- Text loads, in a given environment.
	local f = assert(load("return x", "t", "t", { x = 42 }))
	assert(f() == 42)
	-- require stays inside the configured roots.
	refused("require traversal", require, "../../../etc/passwd")
	refused("require absolute", require, "/etc/passwd")
	refused("require with NUL", require, "skynet\0x")
	refused("require a C module", require, "socket.core")
	refused("require io", require, "io")
	package.path = "/etc/?;/tmp/?.lua"
	refused("package.path widening", require, "passwd")
	assert(collectgarbage("count") > 0)
	refused("collectgarbage stop", collectgarbage, "stop")
	skynet.error("PASS")
end)
