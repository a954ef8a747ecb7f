-- multicastd: channels and their subscribers. PUB delivers a publication to
-- every subscriber as PTYPE_MULTICAST (session = channel), showing the
-- publisher as its source; only this service holds the grants to do so.
local skynet = require "skynet"

local channels = {}   -- channel id -> set of subscriber handles
local last_id = 0

skynet.register_protocol {
	name = "multicast",
	id = skynet.PTYPE_MULTICAST,
	pack = function(...) return ... end,
	unpack = skynet.tostring,
}

local command = {}

function command.NEW()
	last_id = last_id + 1
	channels[last_id] = {}
	return last_id
end

function command.DEL(source, channel)
	channels[channel] = nil
end

function command.PUB(source, channel, msg)
	local subs = channels[channel]
	if not subs then
		return
	end
	for addr in pairs(subs) do
		skynet.redirect(addr, source, "multicast", channel, msg)
	end
end

function command.SUB(source, channel)
	local subs = assert(channels[channel], "no such channel")
	subs[source] = true
end

function command.USUB(source, channel)
	local subs = channels[channel]
	if subs then
		subs[source] = nil
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(command[cmd], "unknown multicast command")
		if cmd == "NEW" then
			skynet.ret(skynet.pack(f()))
		else
			local r = f(source, ...)
			if session ~= 0 then
				skynet.ret(skynet.pack(r))
			end
		end
	end)
end)
