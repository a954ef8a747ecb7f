-- skynet's `console`: each line typed on the node's stdin names a service
-- to start, with its arguments (`simpledb`, `agent a b`), or a snax service
-- after `snax`. The runtime reads stdin (only the skyhold binary, only from
-- a terminal unless `console_stdin = true`) and brings each line here as a
-- message from source 0; this service starts what it names through the
-- launcher, under this service's own role and spawn limits, one line at a
-- time, and writes an audit line for every start and every failure. When
-- stdin ends, or the node does not read it, the console says why and exits.
local skynet = require "skynet"
local queue = require "skynet.queue"
local stdin = require "skyhold.stdin"

local in_turn = queue()

local function start(line)
	local words = {}
	for w in line:gmatch("%S+") do
		words[#words + 1] = w
	end
	if #words == 0 then
		return
	end
	local ok, r
	if words[1] == "snax" then
		if not words[2] then
			skynet.error("console: usage: snax NAME [ARGS...]")
			return
		end
		local snax = require "skynet.snax"
		ok, r = pcall(snax.newservice, table.unpack(words, 2))
		if ok then
			r = r.handle
		end
	else
		ok, r = pcall(skynet.newservice, table.unpack(words))
	end
	if ok then
		stdin.audit(line, "started " .. skynet.address(r))
		skynet.error(string.format("console: started %s as %s", line, skynet.address(r)))
	else
		stdin.audit(line, "failed: " .. tostring(r))
		skynet.error(string.format("console: could not start %s: %s", line, tostring(r)))
	end
end

local function finish(why)
	local s = stdin.stats()
	skynet.error(string.format("console: stdin %s after %d lines (%d too long, %d not text); the console exits",
		why, s.lines, s.too_long, s.not_text))
	skynet.exit()
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	unpack = skynet.tostring,
	dispatch = function(_, source, msg)
		if source ~= 0 then
			-- only the runtime brings stdin's lines
			return
		end
		local kind, body = msg:sub(1, 1), msg:sub(2)
		if kind == "L" then
			in_turn(start, body)
		elseif kind == "E" then
			in_turn(finish, body)
		end
	end,
}

skynet.start(function()
	local ok, why = stdin.claim()
	if not ok then
		skynet.error("console: " .. why)
		skynet.exit()
		return
	end
	skynet.error("console: starting the services named on stdin")
end)
