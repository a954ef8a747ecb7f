-- Multicast as skynet's testmulticast uses it: channel ids carry the harbor
-- id in their low byte (the first is the harbor id itself, each next one
-- 256 more), and a subscriber's dispatch owes no reply (the Rust side of
-- the case checks no "Maybe forgot response" line is logged).
local skynet = require "skynet"
local mc = require "skynet.multicast"
local datacenter = require "skynet.datacenter"

local mode, reporter = ...

if mode == "sub" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, channel)
			assert(cmd == "init")
			local c = mc.new {
				channel = channel,
				dispatch = function(ch, source, text)
					skynet.send(tonumber(reporter), "lua", "got", ch.channel, text, source)
				end,
			}
			c:subscribe()
			skynet.ret(skynet.pack())
		end)
	end)
else
	skynet.start(function()
		local got = {}
		skynet.dispatch("lua", function(_, _, what, channel, text, source)
			assert(what == "got")
			got[#got + 1] = { channel, text, source }
		end)
		local harbor = skynet.harbor(skynet.self())
		local first = mc.new()
		local second = mc.new()
		assert(first.channel == harbor, "first channel " .. tostring(first.channel))
		assert(second.channel == harbor + 256, "second channel " .. tostring(second.channel))
		assert(tostring(first) == string.format("[Multicast:%x]", harbor), tostring(first))
		-- multicastd leaves its address in the datacenter, as skynet's does.
		assert(datacenter.get("multicast", harbor), "no multicastd in the datacenter")

		for _, ch in ipairs { first, second } do
			for _ = 1, 3 do
				local sub = skynet.newservice("multicast_ids", "sub", skynet.self())
				skynet.call(sub, "lua", "init", ch.channel)
			end
		end
		first:publish("Hello World")
		second:publish("Hello again")
		for _ = 1, 200 do
			if #got == 6 then
				break
			end
			skynet.sleep(1)
		end
		assert(#got == 6, "deliveries: " .. #got)
		for _, g in ipairs(got) do
			local want = g[1] == first.channel and "Hello World" or "Hello again"
			assert(g[2] == want, g[2])
			assert(g[3] == skynet.self(), "the publisher is the source")
		end
		-- Give any "forgot response" line time to reach the log first.
		skynet.sleep(10)
		first:delete()
		second:delete()
		skynet.error("PASS")
	end)
end
