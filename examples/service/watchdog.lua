-- The watchdog: one agent per connection, as skynet's examples do it.
-- Its argument names the agent's script (`agent` unless given: the sproto
-- game starts it with `sproto_agent`, the protobuf game with `pb_agent`).
local skynet = require "skynet"

local agent_script = ... or "agent"

local CMD = {}
local SOCKET = {}
local gate
local agents = {}   -- fd -> agent

function SOCKET.open(fd, addr)
	skynet.error("new client from " .. addr)
	local agent = skynet.newservice(agent_script)
	agents[fd] = agent
	skynet.call(agent, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self() })
end

local function close_agent(fd)
	local a = agents[fd]
	agents[fd] = nil
	if a then
		skynet.call(gate, "lua", "kick", fd)
		skynet.send(a, "lua", "disconnect")
	end
end

function SOCKET.close(fd)
	close_agent(fd)
end

function SOCKET.error(fd, msg)
	skynet.error("client " .. fd .. " closed: " .. tostring(msg))
	close_agent(fd)
end

function SOCKET.warning(fd, size)
	skynet.error("client " .. fd .. " is slow: " .. size .. " KiB unsent")
end

function SOCKET.data(fd, msg) end

function CMD.start(conf)
	return skynet.call(gate, "lua", "open", conf)
end

function CMD.close(fd)
	close_agent(fd)
end

-- How many clients are connected (the protobuf game tells new players).
function CMD.count()
	local n = 0
	for _ in pairs(agents) do
		n = n + 1
	end
	return n
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, subcmd, ...)
		if cmd == "socket" then
			local f = SOCKET[subcmd]
			f(...)
		else
			local f = assert(CMD[cmd])
			skynet.ret(skynet.pack(f(subcmd, ...)))
		end
	end)
	gate = skynet.newservice("gate")
end)
