local skynet = require "skynet"

local function try(name, bytes)
	local ok, err = pcall(skynet.unpack, bytes)
	assert(not ok, name .. " must fail")
	skynet.error(name .. ": " .. tostring(err))
end

skynet.start(function()
	try("deep", string.rep("\x0e", 1000000))
	try("huge array", "\xfe\x22\xff\xff\xff\x7f")
	try("huge string", "\x25\xff\xff\xff\x7f" .. "abc")
	try("pointer", "\x03\x01\x02\x03\x04\x05\x06\x07\x08")
	-- The service still works afterwards.
	assert(skynet.unpack(skynet.pack(1, "two")) == 1)
	skynet.error("PASS")
end)
