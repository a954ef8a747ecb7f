-- The browser version's watchdog: the native gate in WebSocket mode
-- (skynet.launch("gate", "W", ...), or "WSS" for wss:// with the config's
-- certfile and keyfile) reports connections as text; each
-- player gets the same agent as the TCP version, which writes back
-- through the gate (one WebSocket message per reply).
local skynet = require "skynet"
require "skynet.manager"   -- skynet.launch

local gate
local agents = {}   -- fd -> agent

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
}

local function command(text)
	skynet.send(gate, "text", text)
end

local function close_agent(fd)
	local a = agents[fd]
	agents[fd] = nil
	if a then
		command("kick " .. fd)
		skynet.send(a, "lua", "disconnect")
	end
end

local REPORT = {}

function REPORT.open(fd, addr)
	skynet.error("new browser player from " .. addr)
	local agent = skynet.newservice("agent")
	agents[fd] = agent
	command(string.format("forward %d %s :00000000", fd, skynet.address(agent)))
	skynet.call(agent, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self(), native = true })
	command("start " .. fd)
end

function REPORT.close(fd)
	close_agent(fd)
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(text) return text end,
	unpack = skynet.tostring,
	dispatch = function(_, _, text)
		local fd, what, rest = text:match("^(%d+) (%a+) ?(.*)$")
		local f = REPORT[what]
		if f then
			f(tonumber(fd), rest:match("%S+$") or rest)
		end
	end,
}

local CMD = {}

function CMD.start(conf)
	gate = assert(skynet.launch("gate", conf.tls and "WSS" or "W", skynet.address(skynet.self()),
		conf.address .. ":" .. conf.port, 0, conf.maxclient))
	return conf.address, conf.port
end

function CMD.close(fd)
	close_agent(fd)
end

skynet.start(function()
	skynet.dispatch("lua", function(session, _, cmd, ...)
		local f = assert(CMD[cmd])
		local r = { f(...) }
		if session ~= 0 then
			skynet.ret(skynet.pack(table.unpack(r)))
		end
	end)
end)
