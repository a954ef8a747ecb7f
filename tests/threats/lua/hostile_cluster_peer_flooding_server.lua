-- A node this one calls answers with a flood of replies to calls never
-- made: they are counted and dropped, and the link is read no faster than
-- clusterd takes what it reads.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	cluster.reload { sink = "127.0.0.1:" .. skynet.getenv("sink_port") }
	cluster.send("sink", "@anything", "open the link")
	for _ = 1, 500 do
		skynet.sleep(1)
		if cluster.stat().protocol_errors >= 2000 then
			skynet.error("PASS protocol_errors=" .. cluster.stat().protocol_errors)
			return
		end
	end
	skynet.error("FAIL protocol_errors=" .. cluster.stat().protocol_errors)
end)
