-- Waiting for a global name (one without a leading dot) that no service has
-- yet: skynet holds such calls and sends in its harbor until the name is
-- registered, and so does skyhold, through the .cslave service (cdummy).
-- Loaded only when a service first meets a name that does not exist yet.
local skynet = require "skynet"

local globalname = {}

-- coroutine -> { name = ..., handle = nil | false | handle }
local waits = {}

-- The handle `name` gets once registered; raises "call failed" if the wait
-- is ended by skynet.term(name) (debug TERM) first.
function globalname.wait(name)
	local co = coroutine.running()
	local entry = { name = name }
	waits[co] = entry
	skynet.fork(function()
		local ok, handle = pcall(skynet.call, ".cslave", "lua", "QUERYNAME", name)
		if waits[co] == entry then
			entry.handle = ok and handle or false
			skynet.wakeup(co)
		end
	end)
	skynet.wait(co)
	waits[co] = nil
	if not entry.handle then
		error("call failed")
	end
	return entry.handle
end

-- A send to `name`, made once the name exists.
function globalname.send(name, typename, ...)
	local args = table.pack(...)
	skynet.fork(function()
		local ok, handle = pcall(globalname.wait, name)
		if ok then
			skynet.send(handle, typename, table.unpack(args, 1, args.n))
		end
	end)
end

-- Ends every wait for `name` with an error (skynet.term).
function globalname.term(name)
	for co, entry in pairs(waits) do
		if entry.name == name then
			waits[co] = nil
			entry.handle = false
			skynet.wakeup(co)
		end
	end
end

return globalname
