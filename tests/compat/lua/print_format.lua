-- print writes what Lua's print writes: numbers as tostring gives them,
-- __tostring honoured, tab-separated.
local skynet = require "skynet"

skynet.start(function()
	local obj = setmetatable({}, { __tostring = function() return "OBJ" end })
	local values = table.pack("NUMS", 625000.0, 1e15, 2^53, 0.1, -0.0, 3, 100000 / 0.16, nil, true, obj)
	print(table.unpack(values, 1, values.n))
	local parts = {}
	for i = 1, values.n do
		parts[i] = tostring(values[i])
	end
	skynet.error("WANT " .. table.concat(parts, "\t"))
	skynet.error("PASS")
end)
