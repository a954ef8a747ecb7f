-- LuaFileSystem inside one directory, DIFF_DIR (a fresh temporary
-- directory: skyhold's service gets it as its writable file root), case by
-- case. Run by Debian's lua5.4 with lua-filesystem and by skyhold
-- (runner.lua). Only fields that do not depend on the moment or the disk
-- are printed: no inode, device, block counts or times other than those
-- the script sets with lfs.touch; a directory's size depends on the file
-- system, so only a file's is shown.
local lfs = require "lfs"
local S = require "show"
local show, try = S.show, S.try
local D = DIFF_DIR

local STABLE = { "mode", "nlink", "size", "permissions", "uid", "gid", "rdev" }

local function attrs(name, path, ...)
	local a, err, code = lfs.attributes(path, ...)
	if type(a) ~= "table" then
		print(name, S.all(a, err, code))
		return
	end
	local parts = {}
	for _, k in ipairs(STABLE) do
		if not (k == "size" and a.mode == "directory") then
			parts[#parts + 1] = k .. "=" .. show(a[k])
		end
	end
	local keys = {}
	for k in pairs(a) do
		keys[#keys + 1] = k
	end
	table.sort(keys)
	print(name, table.concat(parts, " "), "keys=" .. table.concat(keys, ","))
end

local function listing(name, path)
	local ok, iter, obj = pcall(lfs.dir, path)
	if not ok then
		print(name, try(lfs.dir, path))
		return
	end
	local names = {}
	for entry in iter, obj do
		names[#names + 1] = entry
	end
	table.sort(names)
	print(name, table.concat(names, " "))
end

local function write(path, text)
	local f = assert(io.open(path, "w"))
	f:write(text)
	f:close()
end

print("version", lfs._VERSION)
print("fns", show(type(lfs.attributes)), show(type(lfs.dir)), show(type(lfs.mkdir)),
	show(type(lfs.rmdir)), show(type(lfs.touch)), show(type(lfs.lock)), show(type(lfs.link)))

-- mkdir and rmdir.
print("mkdir", S.all(lfs.mkdir(D .. "/a")))
print("mkdir.again", S.all(lfs.mkdir(D .. "/a")))
print("mkdir.nested", S.all(lfs.mkdir(D .. "/a/b")))
print("mkdir.noparent", S.all(lfs.mkdir(D .. "/x/y/z")))
print("mkdir.file", S.all(lfs.mkdir(D .. "/a/b/")))
write(D .. "/a/file.txt", "hello, files\n")
print("mkdir.onfile", S.all(lfs.mkdir(D .. "/a/file.txt/sub")))
print("rmdir.notempty", S.all(lfs.rmdir(D .. "/a")))
print("rmdir.missing", S.all(lfs.rmdir(D .. "/nothere")))
print("rmdir.file", S.all(lfs.rmdir(D .. "/a/file.txt")))
print("rmdir", S.all(lfs.rmdir(D .. "/a/b")))
print("rmdir.again", S.all(lfs.rmdir(D .. "/a/b")))

-- attributes.
attrs("attr.dir", D .. "/a")
attrs("attr.file", D .. "/a/file.txt")
attrs("attr.missing", D .. "/a/none.txt")
attrs("attr.missingdir", D .. "/none/none.txt")
attrs("attr.trailing", D .. "/a/")
print("attr.mode", S.all(lfs.attributes(D .. "/a/file.txt", "mode")))
print("attr.size", S.all(lfs.attributes(D .. "/a/file.txt", "size")))
print("attr.perm", S.all(lfs.attributes(D .. "/a", "permissions")))
print("attr.badname", try(lfs.attributes, D .. "/a", "colour"))
print("attr.missing.name", S.all(lfs.attributes(D .. "/none", "mode")))
local into = { extra = 1 }
local got = lfs.attributes(D .. "/a/file.txt", into)
print("attr.table", show(got == into), show(into.extra), show(into.mode), show(into.size))
print("attr.noarg", try(lfs.attributes))
write(D .. "/empty", "")
attrs("attr.empty", D .. "/empty")
write(D .. "/big", string.rep("0123456789", 10000))
print("attr.big", S.all(lfs.attributes(D .. "/big", "size")))

-- touch: set times, read them back.
print("touch.both", S.all(lfs.touch(D .. "/a/file.txt", 1000000, 2000000)))
print("touch.read", S.all(lfs.attributes(D .. "/a/file.txt", "access")),
	S.all(lfs.attributes(D .. "/a/file.txt", "modification")))
print("touch.one", S.all(lfs.touch(D .. "/a/file.txt", 86400)))
print("touch.read2", S.all(lfs.attributes(D .. "/a/file.txt", "access")),
	S.all(lfs.attributes(D .. "/a/file.txt", "modification")))
print("touch.dir", S.all(lfs.touch(D .. "/a", 5, 6)))
print("touch.dirread", S.all(lfs.attributes(D .. "/a", "access")),
	S.all(lfs.attributes(D .. "/a", "modification")))
print("touch.missing", S.all(lfs.touch(D .. "/a/none", 1, 2)))
local before = os.time()
print("touch.now", S.all(lfs.touch(D .. "/empty")))
local m = lfs.attributes(D .. "/empty", "modification")
print("touch.nowread", show(m >= before - 1 and m <= os.time() + 1))

-- dir.
listing("dir.top", D)
listing("dir.a", D .. "/a")
listing("dir.missing", D .. "/none")
listing("dir.file", D .. "/a/file.txt")
for i = 1, 20 do
	write(D .. "/a/f" .. i, tostring(i))
end
listing("dir.many", D .. "/a")
local iter, obj = lfs.dir(D .. "/a")
local first = obj:next()
print("dir.next", type(first))
print("dir.close", S.all(obj:close()))
print("dir.closed", try(obj.next, obj))
print("dir.close2", try(obj.close, obj))
print("dir.iterfn", type(iter))

-- Links.
print("link.sym", S.all(lfs.link("file.txt", D .. "/a/sym", true)))
attrs("link.attr", D .. "/a/sym")
local sa = lfs.symlinkattributes(D .. "/a/sym")
print("link.symattr", show(sa.mode), show(sa.target), show(sa.size))
print("link.symattr.mode", S.all(lfs.symlinkattributes(D .. "/a/sym", "mode")))
print("link.symattr.target", S.all(lfs.symlinkattributes(D .. "/a/sym", "target")))
print("link.symattr.file", show(lfs.symlinkattributes(D .. "/a/file.txt").mode),
	show(lfs.symlinkattributes(D .. "/a/file.txt").target))
print("link.hard", S.all(lfs.link(D .. "/a/file.txt", D .. "/a/hard")))
print("link.nlink", S.all(lfs.attributes(D .. "/a/file.txt", "nlink")))
print("link.exists", S.all(lfs.link(D .. "/a/file.txt", D .. "/a/hard")))
print("link.dangling", S.all(lfs.link("nowhere", D .. "/a/dangling", true)))
attrs("link.dangling.attr", D .. "/a/dangling")
print("link.dangling.sym", show(lfs.symlinkattributes(D .. "/a/dangling", "mode")))
listing("dir.links", D .. "/a")
print("mkdir.slash", S.all(lfs.mkdir(D .. "/d2/")))
print("link.dir", S.all(lfs.link("d2", D .. "/dlink", true)))
attrs("link.dir.attr", D .. "/dlink")
print("link.dir.sym", show(lfs.symlinkattributes(D .. "/dlink", "mode")),
	show(lfs.symlinkattributes(D .. "/dlink", "target")))
listing("link.dir.list", D .. "/dlink")
print("link.dir.rmdir", S.all(lfs.rmdir(D .. "/dlink")))
print("link.dir.touch", S.all(lfs.touch(D .. "/dlink", 77, 88)))
print("link.dir.times", S.all(lfs.attributes(D .. "/d2", "modification")))
attrs("attr.root", D)
print("rmdir.slash", S.all(lfs.rmdir(D .. "/d2/")))

-- Locks.
local f = assert(io.open(D .. "/a/file.txt", "r+"))
print("lock.w", S.all(lfs.lock(f, "w")))
print("unlock", S.all(lfs.unlock(f)))
print("lock.r", S.all(lfs.lock(f, "r")))
print("unlock2", S.all(lfs.unlock(f)))
print("lock.badmode", try(lfs.lock, f, "x"))
print("lock.notfile", try(lfs.lock, "file", "w"))
print("setmode", S.all(lfs.setmode(f, "binary")))
print("setmode.text", S.all(lfs.setmode(f, "text")))
f:close()
print("lock.closed", try(lfs.lock, f, "w"))
local lk, lerr = lfs.lock_dir(D .. "/a")
print("lockdir", type(lk), show(lerr))
print("lockdir.again", S.all(lfs.lock_dir(D .. "/a")))
listing("lockdir.entry", D .. "/a")
print("lockdir.free", S.all(lk:free()))
listing("lockdir.freed", D .. "/a")
print("lockdir.missing", S.all(lfs.lock_dir(D .. "/none")))

-- currentdir and chdir.
print("chdir", S.all(lfs.chdir(D .. "/a")))
print("currentdir", S.all(lfs.currentdir()))
print("rel.attr", S.all(lfs.attributes("file.txt", "size")))
print("rel.mkdir", S.all(lfs.mkdir("sub")))
print("rel.exists", S.all(lfs.attributes(D .. "/a/sub", "mode")))
print("rel.rmdir", S.all(lfs.rmdir("sub")))
print("chdir.up", S.all(lfs.chdir("..")))
print("currentdir.up", S.all(lfs.currentdir()))
print("chdir.missing", S.all(lfs.chdir(D .. "/none")))
print("chdir.file", S.all(lfs.chdir(D .. "/a/file.txt")))
print("currentdir.after", S.all(lfs.currentdir()))

-- (No clean-up here: a service has no os.remove; the test removes the
-- directory.)
print("rmdir.full", S.all(lfs.rmdir(D .. "/a")))
listing("dir.end", D)
