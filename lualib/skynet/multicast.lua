-- skynet.multicast: channels in the multicastd service. A subscriber gets
-- each publication as a PTYPE_MULTICAST message whose session is the channel
-- and whose source is the publisher.
local skynet = require "skynet"

local multicastd
local multicast = {}
local subscribed = {}   -- channel -> channel object

local chan = {}
local chan_meta = {
	__index = chan,
	__tostring = function(self)
		return string.format("[Multicast:%x]", self.channel)
	end,
}

local function default_conf(conf)
	conf = conf or {}
	conf.pack = conf.pack or skynet.pack
	conf.unpack = conf.unpack or skynet.unpack
	return conf
end

function multicast.new(conf)
	assert(multicastd, "Init first")
	local self = {}
	conf = default_conf(conf)
	self.__pack = conf.pack
	self.__unpack = conf.unpack
	self.__dispatch = conf.dispatch
	self.channel = conf.channel or skynet.call(multicastd, "lua", "NEW")
	return setmetatable(self, chan_meta)
end

function chan:delete()
	local c = assert(self.channel)
	skynet.send(multicastd, "lua", "DEL", c)
	self.channel = nil
	self.__subscribe = nil
	subscribed[c] = nil
end

function chan:publish(...)
	local c = assert(self.channel)
	local msg = skynet.tostring(self.__pack(...))
	skynet.call(multicastd, "lua", "PUB", c, msg)
end

function chan:subscribe()
	local c = assert(self.channel)
	if self.__subscribe then
		return
	end
	skynet.call(multicastd, "lua", "SUB", c)
	self.__subscribe = true
	subscribed[c] = self
end

function chan:unsubscribe()
	if not self.__subscribe then
		return
	end
	local c = assert(self.channel)
	skynet.send(multicastd, "lua", "USUB", c)
	self.__subscribe = nil
	subscribed[c] = nil
end

local function dispatch_subscribe(channel, source, msg, sz)
	-- The session of a publication is its channel, not a call: nothing is
	-- owed back.
	skynet.ignoreret()
	local self = subscribed[channel]
	if not self or not self.__subscribe then
		-- Unsubscribed while a publication was on its way.
		return
	end
	self.__dispatch(self, source, self.__unpack(msg, sz))
end

local function init()
	multicastd = skynet.uniqueservice "multicastd"
	skynet.register_protocol {
		name = "multicast",
		id = skynet.PTYPE_MULTICAST,
		unpack = function(msg, sz) return msg, sz end,
		dispatch = dispatch_subscribe,
	}
end

skynet.init(init)

return multicast
