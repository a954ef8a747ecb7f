-- skynet.stm as skynet's teststm uses it: a writer publishes versions, a
-- reader in another service takes the newest when there is one. skyhold's
-- copy is a one-use token, not a pointer: a used or made-up token is
-- refused, and the node bounds tokens and bytes (the case's config sets
-- stm_max_copies = 8 and stm_max_bytes = 4096).
local skynet = require "skynet"
local stm = require "skynet.stm"

local mode = ...

if mode == "reader" then
	local reader
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, token)
			if cmd == "take" then
				reader = stm.newcopy(token)
				skynet.retpack(reader(skynet.unpack))
			elseif cmd == "read" then
				skynet.retpack(reader(skynet.unpack))
			elseif cmd == "take again" then
				skynet.retpack(pcall(stm.newcopy, token))
			end
		end)
	end)
	return
end

skynet.start(function()
	local r = skynet.newservice(SERVICE_NAME, "reader")
	local w = stm.new(skynet.pack(1, 2, 3))
	local token = stm.copy(w)
	assert(math.type(token) == "integer", "a copy is a number to send")

	local ok, a, b, c = skynet.call(r, "lua", "take", token)
	assert(ok == true and a == 1 and b == 2 and c == 3, "the first read gives the version")
	assert(skynet.call(r, "lua", "read") == false, "no new version, no read")
	w(skynet.pack("hello", 4))
	ok, a, b = skynet.call(r, "lua", "read")
	assert(ok == true and a == "hello" and b == 4, "the newest version")
	assert(skynet.call(r, "lua", "read") == false)

	-- A token is good for one newcopy; one nobody made is refused.
	local took, err = skynet.call(r, "lua", "take again", token)
	assert(not took and err:find("is no copy", 1, true), tostring(err))
	took, err = pcall(stm.newcopy, token + 1)
	assert(not took and err:find("is no copy", 1, true), tostring(err))

	-- The reader's function gets the message, its size and the extra value.
	local r2 = stm.newcopy(stm.copy(w))
	local seen
	local got, size = r2(function(msg, sz, ud)
		seen = ud
		return sz
	end, "ud")
	assert(got and seen == "ud" and size == #skynet.packstring("hello", 4))

	-- When the writer is gone, readers get no more versions.
	w = nil
	collectgarbage()
	collectgarbage()
	assert(r2(function() error("no version expected") end) == false)

	-- Limits: tokens waiting for newcopy, and bytes held by writers.
	local w2 = stm.new("x")
	local made = 0
	while made < 100 and pcall(stm.copy, w2) do
		made = made + 1
	end
	assert(made == 8, "stm_max_copies: " .. made)
	local big, why = pcall(stm.new, string.rep("y", 5000))
	assert(not big and why:find("stm_max_bytes", 1, true), tostring(why))
	skynet.error("PASS")
end)
