-- agent: one per connected player. Reads the client's commands (one frame
-- each): login NAME TOKEN, join ROOM, say TEXT, ping, quit.
local skynet = require "skynet"
local socket = require "skynet.socket"

local HEARTBEAT = 3000   -- centiseconds without a ping before the player is dropped

local client_fd
local watchdog
local gate
local native   -- the native gate (WebSocket mode): write through it
local player
local room
local last_seen = 0

local function reply(text)
	if client_fd then
		if native then
			-- the gate sends it as one WebSocket message
			skynet.rawsend(gate, "client", text .. string.pack("<I4", client_fd))
		else
			socket.write(client_fd, string.pack(">s2", text))
		end
	end
end

local REQUEST = {}

function REQUEST.login(name, token)
	if player then
		return "already logged in as " .. player
	end
	if not name or not token then
		return "usage: login NAME TOKEN"
	end
	if skynet.call(skynet.queryservice("login"), "lua", "check", name, token) then
		player = name
		return "welcome, " .. name
	end
	return "login failed"
end

function REQUEST.join(room_name)
	if not player then
		return "login first"
	end
	if not room_name or not room_name:match("^[%w_%-]+$") then
		return "usage: join ROOM"
	end
	if room then
		skynet.call(room, "lua", "leave")
	end
	room = skynet.call(skynet.queryservice("rooms"), "lua", "get", room_name)
	local who = skynet.call(room, "lua", "join", player)
	return "in " .. room_name .. ": " .. who
end

function REQUEST.say(...)
	if not room then
		return "join a room first"
	end
	skynet.send(room, "lua", "say", table.concat({ ... }, " "))
end

function REQUEST.ping()
	return "pong"
end

function REQUEST.quit()
	reply("bye")
	skynet.call(watchdog, "lua", "close", client_fd)
end

local function leave()
	if room then
		skynet.call(room, "lua", "leave")
		room = nil
	end
end

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
	dispatch = function(fd, _, text)
		assert(fd == client_fd, "message for another connection")
		skynet.ignoreret()
		last_seen = skynet.now()
		local words = {}
		for w in string.gmatch(text, "%S+") do
			words[#words + 1] = w
		end
		local f = REQUEST[words[1] or ""]
		if not f then
			reply("unknown command: " .. tostring(words[1]))
			return
		end
		local ok, r = pcall(f, table.unpack(words, 2))
		if not ok then
			reply("error")
			skynet.error("agent: " .. tostring(r))
		elseif r then
			reply(r)
		end
	end,
}

local CMD = {}

function CMD.start(conf)
	client_fd = conf.client
	watchdog = conf.watchdog
	gate = conf.gate
	native = conf.native
	last_seen = skynet.now()
	if not native then
		skynet.call(conf.gate, "lua", "forward", client_fd)
	end
	reply("hello: login NAME TOKEN, join ROOM, say TEXT, ping, quit")
	skynet.fork(function()
		while client_fd do
			skynet.sleep(500)
			if client_fd and skynet.now() - last_seen > HEARTBEAT then
				reply("no heartbeat: bye")
				skynet.call(watchdog, "lua", "close", client_fd)
				return
			end
		end
	end)
end

function CMD.push(text)
	reply(text)
end

function CMD.disconnect()
	leave()
	client_fd = nil
	skynet.exit()
end

skynet.start(function()
	skynet.dispatch("lua", function(session, _, cmd, ...)
		local f = assert(CMD[cmd])
		local r = f(...)
		if session ~= 0 then
			skynet.ret(skynet.pack(r))
		end
	end)
end)
