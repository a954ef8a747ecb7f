local skynet = require "skynet"
local lfs = require "lfs"

-- Loads every data table under a directory, as projects do at boot.
local function load_tree(root, into)
	for name in lfs.dir(root) do
		if name ~= "." and name ~= ".." then
			local path = root .. "/" .. name
			local mode = lfs.attributes(path, "mode")
			if mode == "directory" then
				load_tree(path, into)
			elseif name:match("%.lua$") then
				local f = assert(io.open(path))
				into[name] = load(f:read("a"), "@" .. path, "t", {})()
				f:close()
			end
		end
	end
	return into
end

skynet.start(function()
	local dir = skynet.getenv "files_dir"
	assert(lfs._VERSION:find("^LuaFileSystem"))
	assert(lfs == _G.lfs)
	local items = load_tree(dir .. "/data", {})
	assert(items["sword.lua"].atk == 10 and items["shield.lua"].def == 7)
	local a = lfs.attributes(dir .. "/proto/game.sproto")
	assert(a.mode == "file" and a.size > 0 and #a.permissions == 9)
	-- The write root: directories, times, locks.
	local var = dir .. "/var"
	assert(lfs.mkdir(var .. "/logs"))
	assert(lfs.attributes(var .. "/logs", "mode") == "directory")
	local f = assert(io.open(var .. "/logs/today", "w"))
	assert(lfs.lock(f, "w"))
	assert(lfs.unlock(f))
	f:close()
	assert(lfs.touch(var .. "/logs/today", 86400))
	assert(lfs.attributes(var .. "/logs/today", "modification") == 86400)
	local lock = assert(lfs.lock_dir(var))
	lock:free()
	-- The current directory is the service's own.
	assert(lfs.chdir(dir .. "/data/items"))
	assert(lfs.currentdir() == dir .. "/data/items" or lfs.currentdir():find("/data/items$"))
	local sw = assert(io.open("sword.lua"))
	sw:close()
	local bad, berr = lfs.mkdir(dir .. "/data/new")
	assert(bad == nil and berr:find("read-only file root", 1, true), berr)
	local d, derr = lfs.rmdir(var .. "/logs")
	assert(d == nil and derr == "Directory not empty", derr)
	skynet.error("PASS")
end)
