-- bench_ring: one node of a ring.
--   "link" next main limit: remember the next node, who to tell, and how
--   many hops a token makes;
--   a one-way number k is a token after k hops: pass k+1 to the next node,
--   or send "done" to main once k reaches the limit.
local skynet = require "skynet"

local next_node, main, limit

skynet.start(function()
	skynet.dispatch("lua", function(session, _, k, a, b, c)
		if session == 0 then
			if k >= limit then
				skynet.send(main, "lua", "done")
			else
				skynet.send(next_node, "lua", k + 1)
			end
		else
			assert(k == "link", "bench_ring: unknown command")
			next_node, main, limit = a, b, c
			skynet.ret()
		end
	end)
end)
