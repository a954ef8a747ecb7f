-- skynet.netpack for skyhold: the 2-byte big-endian length framing used by
-- gates. Incoming frames are cut by the runtime's socket server (with its
-- size, time and rate limits), so services only ever pack outgoing ones.
local netpack = {}

function netpack.pack(msg, sz)
	if type(msg) ~= "string" then
		error("netpack.pack: a string is expected, got " .. type(msg))
	end
	if sz and sz < #msg then
		msg = msg:sub(1, sz)
	end
	if #msg > 65535 then
		error("Invalid size (too long)")
	end
	return string.pack(">s2", msg)
end

function netpack.tostring(msg, sz)
	if sz and type(msg) == "string" and sz < #msg then
		return msg:sub(1, sz)
	end
	return msg
end

local function framed_by_runtime()
	error("skyhold frames connections in its socket server: use snax.gateserver (or socketdriver.frame)", 2)
end

netpack.filter = framed_by_runtime
netpack.pop = framed_by_runtime
netpack.clear = function() end

return netpack
