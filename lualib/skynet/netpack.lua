-- skynet.netpack for skyhold: the 2-byte big-endian length framing used by
-- gates. filter, pop and clear are native (skynet.netpack.core): filter cuts
-- a connection's raw data into frames with skynet's return shapes, holding
-- at most `netpack_buffer` bytes per queue. Frames are strings here, where
-- skynet hands out pointers, so tostring only passes them through.
-- (A gate built on snax.gateserver needs none of this: skyhold's gateserver
-- has the socket server frame its connections, with its own limits.)
local core = require "skynet.netpack.core"

local netpack = {
	filter = core.filter,
	pop = core.pop,
	clear = core.clear,
}

function netpack.pack(msg, sz)
	if type(msg) ~= "string" then
		error("netpack.pack: a string is expected, got " .. type(msg), 2)
	end
	if sz and sz < #msg then
		msg = msg:sub(1, sz)
	end
	if #msg > 65535 then
		error(string.format("Invalid size (too long) of data : %d", #msg), 0)
	end
	local s = string.pack(">s2", msg)
	return s, #s
end

function netpack.tostring(msg, sz)
	if msg == nil then
		return ""
	end
	if sz and type(msg) == "string" and sz < #msg then
		return msg:sub(1, sz)
	end
	return msg
end

return netpack
