-- room: members and chat. Each member is an agent; a message said in the
-- room is sent to every member's agent, which writes it to its client.
local skynet = require "skynet"

local name = ...
local members = {}   -- agent -> player name

local CMD = {}

local function broadcast(text)
	for agent in pairs(members) do
		skynet.send(agent, "lua", "push", text)
	end
end

function CMD.join(agent, player)
	members[agent] = player
	broadcast(string.format("* %s joined %s", player, name))
	local names = {}
	for _, n in pairs(members) do
		names[#names + 1] = n
	end
	table.sort(names)
	return table.concat(names, " ")
end

function CMD.leave(agent)
	local player = members[agent]
	if player then
		members[agent] = nil
		broadcast(string.format("* %s left %s", player, name))
	end
end

function CMD.say(agent, text)
	local player = members[agent]
	if player then
		broadcast(string.format("[%s] %s: %s", name, player, text))
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(CMD[cmd])
		-- The agent is the message's source, stamped by the runtime: a
		-- member cannot speak or leave as someone else.
		local r = f(source, ...)
		if session ~= 0 then
			skynet.ret(skynet.pack(r))
		end
	end)
end)
