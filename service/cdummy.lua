-- .cslave for a single node (harbor = 0), as skynet's cdummy: global names
-- are names in this node's table. A query for a global name no service has
-- yet is answered once one registers it (skynet.name/register tell this
-- service); there is no other harbor to connect or link to.
local skynet = require "skynet"

-- Queries waiting for a name: name -> { response, ... }. Bounded, so a
-- service asking for endless made-up names cannot grow this one without end.
local waiting = {}
local waiting_count = 0
local MAX_WAITING = 10000

local command = {}

function command.QUERYNAME(name)
	local handle = skynet.localname(name)
	if handle or string.byte(name, 1) == 46 then
		skynet.retpack(handle)
		return
	end
	if waiting_count >= MAX_WAITING then
		error(string.format("cdummy: %d queries already wait for global names", MAX_WAITING))
	end
	local queue = waiting[name]
	if not queue then
		queue = {}
		waiting[name] = queue
	end
	queue[#queue + 1] = skynet.response()
	waiting_count = waiting_count + 1
end

-- Sent (not called) when a global name is registered. The name is looked up
-- again rather than the handle taken on trust.
function command.REGISTER(name)
	local queue = waiting[name]
	local handle = skynet.localname(name)
	if not queue or not handle then
		return
	end
	waiting[name] = nil
	waiting_count = waiting_count - #queue
	for _, respond in ipairs(queue) do
		respond(true, handle)
	end
end

function command.LINK(id)
	skynet.ret()
end

function command.CONNECT(id)
	-- As skynet: said, and never answered.
	skynet.error("Can't connect to other harbor in single node mode")
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = command[cmd]
		if not f then
			error("cdummy: unknown command " .. tostring(cmd))
		end
		f(...)
	end)
end)
