local skynet = require "skynet"

skynet.start(function()
	assert(io == nil, "no root configured: no io")
	local lfs = require "lfs"
	local n, e = lfs.attributes("/etc/passwd")
	assert(n == nil and e:find("no file_read_roots configured", 1, true), tostring(e))
	local m, e2 = lfs.mkdir("/tmp/skyhold-should-not-exist")
	assert(m == nil and e2:find("no file_write_root configured", 1, true), tostring(e2))
	skynet.error("PASS")
end)
