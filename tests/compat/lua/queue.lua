-- skynet.queue: critical sections run one at a time, FIFO, re-entrant.
local skynet = require "skynet"
local queue = require "skynet.queue"

skynet.start(function()
	local cs = queue()
	local inside = 0
	local log = {}
	local done = 0
	for i = 1, 3 do
		skynet.fork(function()
			cs(function()
				inside = inside + 1
				assert(inside == 1, "exclusive")
				log[#log + 1] = "in" .. i
				skynet.sleep(1)
				-- re-entrant from the same coroutine
				cs(function() log[#log + 1] = "nested" .. i end)
				log[#log + 1] = "out" .. i
				inside = inside - 1
			end)
			done = done + 1
		end)
	end
	while done < 3 do
		skynet.sleep(1)
	end
	assert(table.concat(log, ",") == "in1,nested1,out1,in2,nested2,out2,in3,nested3,out3", table.concat(log, ","))
	local ok, err = pcall(cs, function() error("boom") end)
	assert(not ok and err:find("boom"))
	assert(cs(function(a) return a * 2 end, 21) == 42)
	skynet.error("PASS")
end)
