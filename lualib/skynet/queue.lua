-- skynet.queue: a critical section. cs(f, ...) runs f with the section held;
-- other coroutines wait their turn in FIFO order; the holder may re-enter.
local skynet = require "skynet"
local coroutine = coroutine
local table_remove = table.remove

return function()
	local holder
	local depth = 0
	local waiting = {}

	local function release(ok, ...)
		depth = depth - 1
		if depth == 0 then
			holder = nil
			local nxt = table_remove(waiting, 1)
			if nxt then
				skynet.wakeup(nxt)
			end
		end
		if not ok then
			error((...), 0)
		end
		return ...
	end

	return function(f, ...)
		local me = coroutine.running()
		if holder ~= me then
			if holder ~= nil or #waiting > 0 then
				waiting[#waiting + 1] = me
				skynet.wait(me)
			end
			holder = me
		end
		depth = depth + 1
		return release(pcall(f, ...))
	end
end
