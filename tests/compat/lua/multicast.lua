-- A channel with 10 subscribers: every one receives every publication, with
-- the publisher as the source.
local skynet = require "skynet"
local mc = require "skynet.multicast"

local mode, channel, reporter = ...

if mode == "sub" then
	skynet.start(function()
		local got = {}
		local ch = mc.new {
			channel = tonumber(channel),
			dispatch = function(c, source, text, n)
				got[#got + 1] = text .. n
				if #got == 3 then
					skynet.send(tonumber(reporter), "lua", "done", table.concat(got, ","), source)
				end
			end,
		}
		ch:subscribe()
		skynet.dispatch("lua", function() skynet.ret() end)
	end)
else
	skynet.start(function()
		local reports = {}
		skynet.dispatch("lua", function(_, _, what, text, source)
			reports[#reports + 1] = { text, source }
		end)
		local ch = mc.new()
		local subs = {}
		for i = 1, 10 do
			subs[i] = skynet.newservice("multicast", "sub", ch.channel, skynet.self())
			skynet.call(subs[i], "lua")
		end
		for i = 1, 3 do
			ch:publish("msg", i)
		end
		for _ = 1, 200 do
			if #reports == 10 then
				break
			end
			skynet.sleep(1)
		end
		assert(#reports == 10, "reports: " .. #reports)
		for _, r in ipairs(reports) do
			assert(r[1] == "msg1,msg2,msg3", r[1])
			assert(r[2] == skynet.self(), "the publisher is the source")
		end
		ch:delete()
		skynet.error("PASS")
	end)
end
