-- skynet.pack / unpack round trips and the exact bytes of spec examples.
local skynet = require "skynet"

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

skynet.start(function()
	assert(hex(skynet.packstring({})) == "0600")
	assert(hex(skynet.packstring({ 1, 2, 3 })) == "1E0A010A020A0300")
	assert(hex(skynet.packstring({ a = 1 })) == "060C610A0100")
	assert(hex(skynet.packstring({ [5] = 1 })) == "060A050A0100")
	assert(hex(skynet.packstring(-1)) == "22FFFFFFFF")
	assert(hex(skynet.packstring(1 << 31)) == "320000008000000000")
	assert(hex(skynet.packstring(65536)) == "2200000100")
	assert(hex(skynet.packstring(1.0)) == "42000000000000F03F")
	assert(hex(skynet.packstring("abc")) == "1C616263")
	assert(hex(skynet.packstring(nil, true, false)) == "000901")

	local big = string.rep("x", 70000)
	local t = { 1, "two", 3.5, { nested = { deeper = true } }, [100] = "sparse", key = big }
	local a, b, c, d = skynet.unpack(skynet.pack(t, nil, "tail", -(1 << 40)))
	assert(a[1] == 1 and a[2] == "two" and a[3] == 3.5 and a[4].nested.deeper == true)
	assert(a[100] == "sparse" and a.key == big)
	assert(b == nil and c == "tail" and d == -(1 << 40))
	assert(math.type(skynet.unpack(skynet.pack(3))) == "integer")
	assert(math.type(skynet.unpack(skynet.pack(3.0))) == "float")
	assert(select("#", skynet.unpack(skynet.pack())) == 0)
	local arr = {}
	for i = 1, 100 do arr[i] = i end
	local back = skynet.unpack(skynet.pack(arr))
	assert(#back == 100 and back[100] == 100)
	local netpack = require "skynet.netpack"
	assert(netpack.pack("hi") == "\0\2hi")
	local ok, err = pcall(netpack.pack, string.rep("x", 65536))
	assert(not ok and err:find("Invalid size (too long)", 1, true))
	skynet.error("PASS")
end)
