-- A sender whose share of a mailbox is full waits for room, for sends and
-- calls alike, and its messages arrive in the order it made them. Run with
-- `sender_messages = 4`, so four queued messages fill a share.
local skynet = require "skynet"

local mode = ...

-- Keeps this service's worker busy for `ms` milliseconds: its mailbox
-- fills meanwhile.
local function spin(ms)
	local until_ns = skynet.hpc() + ms * 1000000
	while skynet.hpc() < until_ns do
	end
end

if mode == "sink" then
	local last = 0
	skynet.start(function()
		skynet.dispatch("lua", function(session, _, cmd, k)
			if cmd == "busy" then
				spin(k)
			elseif cmd == "n" then
				assert(k == last + 1, string.format("got %s after %d", tostring(k), last))
				last = k
				if session ~= 0 then
					skynet.retpack(last)
				end
			elseif cmd == "count" then
				skynet.retpack(last)
			end
		end)
	end)
	return
end

local fails = require("expect").fails

skynet.start(function()
	local sink = skynet.newservice("room", "sink")

	-- One coroutine: sends past its share, then a call made while the share
	-- is still full. The call's reply counts every send before it.
	skynet.send(sink, "lua", "busy", 50)
	local t0 = skynet.hpc()
	for k = 1, 40 do
		skynet.send(sink, "lua", "n", k)
	end
	assert(skynet.call(sink, "lua", "count") == 40, "the call overtook the sends")
	assert(skynet.hpc() - t0 >= 30 * 1000000, "the sender was not slowed")

	-- Calls only: each waits for the one before (one coroutine), so make
	-- the share full first, then call through it.
	skynet.send(sink, "lua", "busy", 30)
	for k = 41, 44 do
		skynet.send(sink, "lua", "n", k)
	end
	assert(skynet.call(sink, "lua", "n", 45) == 45, "a call that waited for room")

	-- Several coroutines at once, sending and calling: each one's messages
	-- arrive in its order, and every call returns.
	skynet.send(sink, "lua", "busy", 30)
	local next_k = 46
	local done, writers = 0, 4
	local token = {}
	for w = 1, writers do
		skynet.fork(function()
			for _ = 1, 10 do
				local k = next_k
				next_k = next_k + 1
				if k % 3 == 0 then
					assert(skynet.call(sink, "lua", "n", k) == k, "a forked call")
				else
					skynet.send(sink, "lua", "n", k)
				end
			end
			done = done + 1
			if done == writers then
				skynet.wakeup(token)
			end
		end)
	end
	skynet.wait(token)
	assert(skynet.call(sink, "lua", "count") == next_k - 1, "a forked message was lost")

	-- Calls the runtime refuses come back as errors at the call.
	fails("call to invalid address", skynet.call, 0x7fffff, "lua", "x")
	fails("Unsupport type function to serialize", skynet.call, sink, "lua", function() end)
	skynet.error("PASS")
end)
