-- A peer that never reads: pushes to it pile up until cluster_max_queued,
-- and then the link is dropped instead of growing without end.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local big = string.rep("z", 60000)
	for _ = 1, 400 do
		cluster.send("sink", "@nobody", big)
		if cluster.stat().slow_links > 0 then
			break
		end
	end
	local st = cluster.stat()
	if st.slow_links > 0 then
		skynet.error("PASS slow_links=" .. st.slow_links)
	else
		skynet.error("FAIL no link was dropped")
	end
end)
