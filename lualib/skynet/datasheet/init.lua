-- skynet.datasheet: read-side of the sheets skynet.datasheet.builder makes.
-- datasheet.query(name) gives the sheet as a table; while the service runs,
-- a forked monitor keeps it (and the tables in it) refreshed in place with
-- each new version, as skynet's readers see updates. skyhold's table is a
-- copy where skynet's is a read-only view of shared memory.
local skynet = require "skynet"
local address = require "skynet.datasheet.address"
local refresh = require "skynet.sharetable.refresh"

local datasheet = {}
local sheets = {}  -- name -> { object, version, error, queue }

local function watch(name, t)
	skynet.fork(function()
		while true do
			local ok, version, blob = pcall(skynet.call, address(), "lua", "monitor", name, t.version)
			if not ok or not version then
				return
			end
			t.version = version
			refresh(t.object, skynet.unpack(blob))
		end
	end)
end

function datasheet.query(name)
	local t = sheets[name]
	if not t then
		t = {}
		sheets[name] = t
	end
	if t.object then
		return t.object
	end
	if t.error then
		error(t.error)
	end
	if t.queue then
		local co = coroutine.running()
		table.insert(t.queue, co)
		skynet.wait(co)
	else
		t.queue = {}
		local ok, version, blob = pcall(skynet.call, address(), "lua", "query", name)
		if ok then
			t.version = version
			t.object = skynet.unpack(blob)
			watch(name, t)
		else
			t.error = version
		end
		local q = t.queue
		t.queue = nil
		for _, co in ipairs(q) do
			skynet.wakeup(co)
		end
	end
	if t.error then
		error(t.error)
	end
	return t.object
end

return datasheet
