-- The sproto game's agent: one per connection. Each client frame is one
-- packed sproto message; the schemas come from sprotoloader's slots (saved
-- once by sproto_main), requests are read with host:dispatch and answered
-- through the responder it gives, and heartbeats are pushed with the
-- request function host:attach makes.
local skynet = require "skynet"
local socket = require "skynet.socket"
local sprotoloader = require "sprotoloader"

local INTERVAL = tonumber(skynet.getenv "heartbeat_interval" or 5)

local host, push
local client_fd, watchdog, store
local player

local function send(pack)
	if client_fd then
		socket.write(client_fd, string.pack(">s2", pack))
	end
end

local REQUEST = {}

function REQUEST.handshake(args)
	local name = args and args.name
	if type(name) ~= "string" or not name:match("^[%w_%-]+$") or #name > 32 then
		return { welcome = "" }, "a name is 1 to 32 letters, digits, - or _"
	end
	player = name
	return { welcome = "welcome, " .. name, heartbeat = math.ceil(INTERVAL) }
end

function REQUEST.get(args)
	local value = skynet.call(store, "lua", "get", args.key)
	return { found = value ~= nil, value = value }
end

function REQUEST.set(args)
	local ok, err = skynet.call(store, "lua", "set", args.key, args.value)
	return { ok = ok, error = err }
end

function REQUEST.quit()
	return { bye = "bye, " .. tostring(player) }
end

local function close()
	skynet.call(watchdog, "lua", "close", client_fd)
end

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = function(msg, sz)
		return pcall(host.dispatch, host, msg, sz)
	end,
	dispatch = function(fd, _, ok, kind, name, args, respond)
		assert(fd == client_fd, "message for another connection")
		skynet.ignoreret()
		if not ok or kind ~= "REQUEST" then
			skynet.error("sproto agent: closing a client that sent a bad message: " .. tostring(kind))
			return close()
		end
		if not player and name ~= "handshake" then
			skynet.error("sproto agent: closing a client that did not shake hands first")
			return close()
		end
		local r, why = REQUEST[name](args)
		if respond then
			send(respond(r))
		end
		if why or name == "quit" then
			if why then
				skynet.error("sproto agent: " .. why)
			end
			close()
		end
	end,
}

local CMD = {}

function CMD.start(conf)
	client_fd = conf.client
	watchdog = conf.watchdog
	store = skynet.queryservice("kvstore")
	host = sprotoloader.load(1):host "package"
	push = host:attach(sprotoloader.load(2))
	skynet.call(conf.gate, "lua", "forward", client_fd)
	skynet.fork(function()
		local tick = 0
		while true do
			skynet.sleep(math.max(1, math.floor(INTERVAL * 100)))
			if not client_fd then
				return
			end
			if player then
				tick = tick + 1
				send(push("heartbeat", { tick = tick }))
			end
		end
	end)
end

function CMD.disconnect()
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
