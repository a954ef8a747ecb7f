-- The sproto game's note store: one table of key -> text for the node,
-- bounded in keys (kv_max_keys) and in the size of each key and value.
local skynet = require "skynet"

local MAX_KEYS = tonumber(skynet.getenv "kv_max_keys" or 1000)
local MAX_KEY = 64
local MAX_VALUE = 1024

local notes = {}
local count = 0

local CMD = {}

function CMD.get(key)
	return notes[key]
end

-- true, or false and why.
function CMD.set(key, value)
	if type(key) ~= "string" or key == "" or #key > MAX_KEY then
		return false, "a key is 1 to " .. MAX_KEY .. " bytes"
	end
	if type(value) ~= "string" or #value > MAX_VALUE then
		return false, "a value is at most " .. MAX_VALUE .. " bytes"
	end
	if notes[key] == nil then
		if count >= MAX_KEYS then
			return false, "the store is full (" .. MAX_KEYS .. " keys)"
		end
		count = count + 1
	end
	notes[key] = value
	return true
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		local f = assert(CMD[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
end)
