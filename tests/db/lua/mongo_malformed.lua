-- Replies a real mongod would not send, from the test's peer: each raises
-- a clear error, the connection is dropped without reading an oversized
-- reply, and the next request reconnects and works.
local skynet = require "skynet"
local mongo = require "skynet.db.mongo"

local conf = { host = "127.0.0.1", port = tonumber(skynet.getenv "mongo_port"), max_reply = 1024 * 1024 }

local cases = {
	{ "opreply", "Unsupported opcode:1" },
	{ "short", "mongo: malformed reply (length 12)" },
	{ "negative", "mongo: malformed reply (length -1)" },
	{ "huge", "mongo: reply of 2147483647 bytes passes the limit of 1048576" },
	{ "oversize", "bytes passes the limit of 1048576" },
	{ "checksum", "Unsupported OP_MSG flag checksumPresent" },
	{ "sections", "Unsupported OP_MSG payload type: 1" },
	{ "badbson", "Invalid bson" },
}

skynet.start(function()
	local c = mongo.client(conf)
	local db = c.game
	for _, case in ipairs(cases) do
		local ok, err = pcall(db.runCommand, db, "probe", case[1])
		if ok then
			error("FAIL " .. case[1] .. " was taken")
		end
		if not string.find(tostring(err), case[2], 1, true) then
			error("FAIL " .. case[1] .. ": " .. tostring(err))
		end
		skynet.error("rejected " .. case[1] .. ": " .. tostring(err))
		if db:runCommand("ping").ok ~= 1 then
			error("FAIL no reconnect after " .. case[1])
		end
	end
	if mongo.rejected_replies() ~= 2 then
		error("FAIL rejected_replies = " .. mongo.rejected_replies())
	end
	local kb = collectgarbage "count"
	if kb > 16 * 1024 then
		error("FAIL memory grew to " .. kb .. " KiB")
	end
	skynet.error("PASS mongo_malformed")
end)
