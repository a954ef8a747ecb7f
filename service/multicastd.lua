-- multicastd: channels and their subscribers. PUB delivers a publication to
-- every subscriber as PTYPE_MULTICAST (session = channel), showing the
-- publisher as its source; only this service holds the grants to do so.
--
-- Channel ids are numbered as skynet numbers them: the low byte is the
-- node's harbor id (the first channel is the harbor id itself), and each
-- next id is 256 more, kept within 31 bits. Services print and pass these
-- ids, so they match skynet's.
local skynet = require "skynet"
local datacenter = require "skynet.datacenter"

local harbor_id = skynet.harbor(skynet.self())

local channels = {}   -- channel id -> set of subscriber handles
local next_id = harbor_id
local NORET = {}      -- a command that answers nothing

local function after(id)
	return (id + 256) & 0x7fffffff
end

skynet.register_protocol {
	name = "multicast",
	id = skynet.PTYPE_MULTICAST,
	pack = function(...) return ... end,
	unpack = skynet.tostring,
}

local command = {}

function command.NEW()
	while channels[next_id] do
		next_id = after(next_id)
	end
	local id = next_id
	channels[id] = {}
	next_id = after(id)
	return id
end

function command.DEL(_, channel)
	channels[channel] = nil
	return NORET
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

-- Subscribing to a channel that does not exist does nothing, as on skynet.
function command.SUB(source, channel)
	local subs = channels[channel]
	if subs then
		subs[source] = true
	end
end

function command.USUB(source, channel)
	local subs = assert(channels[channel])
	subs[source] = nil
	return NORET
end

skynet.start(function()
	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = assert(command[cmd], "unknown multicast command")
		local r = f(source, ...)
		if r ~= NORET then
			skynet.ret(skynet.pack(r))
		end
	end)
	-- skynet's multicastd leaves its address under ("multicast", harbor):
	-- services of other harbors look it up there.
	assert(datacenter.set("multicast", harbor_id, skynet.self()) == nil)
end)
