local skynet = require "skynet"

skynet.start(function()
	local dir = skynet.getenv "files_dir"
	assert(require "io" == io, "require 'io' gives the sandboxed io")
	-- sprotoloader.register: the whole schema file, read with io.open.
	local f = assert(io.open(dir .. "/proto/game.sproto", "rb"))
	local schema = f:read "a"
	f:close()
	assert(schema:find(".package", 1, true))
	assert(io.type(f) == "closed file")
	-- The usual failure: nil, "path: message", errno.
	local missing = dir .. "/proto/missing.sproto"
	local g, err, code = io.open(missing)
	assert(g == nil and err == missing .. ": No such file or directory" and code == 2, err)
	-- Formats, old and new spellings.
	f = assert(io.open(dir .. "/data/numbers.txt"))
	local a, b, c = f:read("n", "*n", "n")
	assert(a == 1 and math.type(a) == "integer" and b == 2.5 and c == 16)
	assert(f:read("*l") == "")
	assert(f:read("L") == "end\n")
	assert(f:read("a") == "" and f:read("l") == nil)
	f:close()
	local lines = {}
	for l in io.lines(dir .. "/data/numbers.txt") do
		lines[#lines + 1] = l
	end
	assert(#lines == 2 and lines[2] == "end")
	-- A data file written and read back in the write root.
	local out = dir .. "/var/state.txt"
	do
		local w <close> = assert(io.open(out, "w"))
		assert(w:write("players ", 3, "\n") == w)
		assert(w:setvbuf("line"))
	end
	local r = assert(io.open(out))
	assert(r:read("a") == "players 3\n")
	assert(r:seek("set", 8) == 8 and r:read("n") == 3)
	r:close()
	local ap = assert(io.open(out, "a"))
	ap:write("more\n")
	ap:close()
	local all = {}
	for l in io.lines(out, "L") do
		all[#all + 1] = l
	end
	assert(table.concat(all) == "players 3\nmore\n")
	-- Reads in the read roots only.
	local w2, werr = io.open(dir .. "/proto/game.sproto", "w")
	assert(w2 == nil and werr:find("read-only file root", 1, true), werr)
	-- skynet.dns's files, allowed by file_dns.
	local hosts = io.open("/etc/hosts")
	if hosts then
		assert(type(hosts:read("a")) == "string")
		hosts:close()
	end
	local pw, pwerr = io.open("/etc/passwd")
	assert(pw == nil and pwerr:find("not under a file root", 1, true), pwerr)
	-- No standard input or output.
	local ok, e = pcall(io.write, "x")
	assert(not ok and e:find("not available in skyhold", 1, true), e)
	skynet.error("PASS")
end)
