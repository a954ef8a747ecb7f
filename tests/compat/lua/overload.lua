-- A mailbox that grows past 1024 messages while its service is busy: the
-- service's log says "May overload", as skynet's does (one sender alone
-- cannot get there: its share of a mailbox is 1024 messages).
local skynet = require "skynet"

local mode = ...
local SENDERS, EACH = 3, 400

if mode == "target" then
	local got = 0
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "busy" then
				local t = skynet.hpc()
				while skynet.hpc() - t < 400000000 do end
			else
				got = got + 1
				if got == SENDERS * EACH then
					skynet.error("PASS")
				end
			end
		end)
	end)
elseif mode == "sender" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, target)
			for _ = 1, EACH do
				skynet.send(target, "lua", "noop")
			end
			skynet.ret()
		end)
	end)
else
	skynet.start(function()
		local target = skynet.newservice(SERVICE_NAME, "target")
		local senders = {}
		for i = 1, SENDERS do
			senders[i] = skynet.newservice(SERVICE_NAME, "sender")
		end
		skynet.send(target, "lua", "busy")
		for i = 1, SENDERS do
			skynet.fork(skynet.call, senders[i], "lua", target)
		end
	end)
end
