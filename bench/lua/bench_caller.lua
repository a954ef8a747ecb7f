-- bench_caller: makes calls back to back.
--   "run" target n timed limit_s: makes n calls to target (stopping early
--   after limit_s seconds) and replies with: calls made, elapsed seconds and,
--   when timed, the p50, p99 and max latency in milliseconds.
local skynet = require "skynet"

local function now()
	return skynet.hpc() / 1e9
end

local function pct(sorted, p)
	if #sorted == 0 then
		return 0
	end
	local i = math.floor((#sorted - 1) * p + 0.5) + 1
	return sorted[i]
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, target, n, timed, limit_s)
		assert(cmd == "run", "bench_caller: unknown command")
		local t0 = now()
		local deadline = t0 + (limit_s or 600)
		local lat = {}
		local done = 0
		for i = 1, n do
			local c0 = now()
			skynet.call(target, "lua", i)
			local c1 = now()
			done = i
			if timed then
				lat[i] = (c1 - c0) * 1000
			end
			if c1 > deadline then
				break
			end
		end
		local elapsed = now() - t0
		if timed then
			table.sort(lat)
			skynet.retpack(done, elapsed, pct(lat, 0.5), pct(lat, 0.99), lat[#lat] or 0)
		else
			skynet.retpack(done, elapsed)
		end
	end)
end)
