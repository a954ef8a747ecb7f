local skynet = require "skynet"
local lfs = require "lfs"

local function refused(what, expect, errno, f, e, n)
	assert(f == nil, what .. " must be refused")
	assert(type(e) == "string" and e:find(expect, 1, true), what .. ": " .. tostring(e))
	assert(n == errno, what .. ": errno " .. tostring(n))
end

skynet.start(function()
	local dir = skynet.getenv "files_test_dir"
	local ro, rw = dir .. "/ro", dir .. "/rw"
	local outside = "not under a file root (file_read_roots)"
	-- What the roots allow still works.
	local f = assert(io.open(ro .. "/data.txt"))
	assert(f:read("a") == "data\n")
	f:close()
	-- Reads out of the roots.
	refused("..", outside, 13, io.open(ro .. "/../outside/secret.txt"))
	refused("absolute", outside, 13, io.open("/etc/passwd"))
	refused("symlink out", "leads out of its file root", 13, io.open(ro .. "/escape"))
	refused("symlinked dir out", "leads out of its file root", 13, io.open(ro .. "/up/secret.txt"))
	refused("NUL byte", "a file path may not contain a NUL byte", 13,
		io.open(ro .. "/data.txt\0/../../outside/secret.txt"))
	local n, e = lfs.attributes(dir .. "/outside/secret.txt")
	assert(n == nil and e:find(outside, 1, true), e)
	local ok, err = pcall(lfs.dir, dir .. "/outside")
	assert(not ok and err:find(outside, 1, true), err)
	-- Writes out of the write root.
	refused("write under a read root", "read-only file root", 13, io.open(ro .. "/data.txt", "w"))
	refused("append under a read root", "read-only file root", 13, io.open(ro .. "/data.txt", "a+"))
	refused("write outside", "not under the file write root", 13, io.open(dir .. "/outside/new", "w"))
	refused("mkdir outside", "not under the file write root", 13, lfs.mkdir(dir .. "/outside/made"))
	refused("symlink made to point out", "may only point inside the file roots", 13,
		lfs.link(dir .. "/outside/secret.txt", rw .. "/evil", true))
	-- Too many open files.
	local open = {}
	for i = 1, 4 do
		open[i] = assert(io.open(ro .. "/data.txt"))
	end
	refused("a fifth open file", "file_max_open = 4", 24, io.open(ro .. "/data.txt"))
	for _, file in ipairs(open) do
		file:close()
	end
	assert(io.open(ro .. "/data.txt")):close()
	-- A huge read.
	local big = assert(io.open(ro .. "/big.txt"))
	local ok2, err2 = pcall(big.read, big, "a")
	assert(not ok2 and err2:find("file_max_read", 1, true), tostring(err2))
	big:close()
	skynet.error("PASS")
end)
