-- The protobuf game's agent: one per connection. It compiles
-- proto/game.proto with protoc.lua when it starts (pb's types belong to
-- the service that loads them); each client frame is one game.Request,
-- answered with one game.Response carrying the same session. Requests are
-- handled one at a time, in the order they came (skynet.queue): a client
-- that sends `set` and `quit` at once gets both answers, in order.
local skynet = require "skynet"
local queue = require "skynet.queue"
local socket = require "skynet.socket"
local pb = require "pb"
local protoc = require "protoc"

local client_fd, watchdog, store
local player
local in_order = queue()

local function send(msg)
	if client_fd then
		socket.write(client_fd, string.pack(">s2", pb.encode("game.Response", msg)))
	end
end

local HANDLE = {}

function HANDLE.hello(args)
	local name = args.name
	if not name:match "^[%w_%-]+$" or #name > 32 then
		return { refused = { reason = "a name is 1 to 32 letters, digits, - or _" } }, true
	end
	player = name
	local players = skynet.call(watchdog, "lua", "count")
	return { welcome = { text = "welcome, " .. name, players = players } }
end

function HANDLE.get(args)
	local value = skynet.call(store, "lua", "get", args.key)
	return { value = { found = value ~= nil, value = value } }
end

function HANDLE.set(args)
	local ok, err = skynet.call(store, "lua", "set", args.key, args.value)
	if ok then
		return { stored = {} }
	end
	return { refused = { reason = err } }
end

function HANDLE.quit()
	return { bye = { text = "bye, " .. tostring(player) } }, true
end

local function close()
	if client_fd then
		skynet.call(watchdog, "lua", "close", client_fd)
	end
end

-- One request: answered, or the client closed if it is not one.
local function handle(ok, req)
	if not client_fd then
		return -- the connection is gone: requests still queued are dropped
	end
	if not ok or not req.command then
		skynet.error("pb agent: closing a client that sent a bad message: " .. tostring(req))
		return close()
	end
	if not player and req.command ~= "hello" then
		skynet.error("pb agent: closing a client that did not say hello first")
		return close()
	end
	local r, done = HANDLE[req.command](req[req.command])
	r.session = req.session
	send(r)
	if done then
		close()
	end
end

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = function(msg, sz)
		return pcall(pb.decode, "game.Request", skynet.tostring(msg, sz))
	end,
	dispatch = function(fd, _, ok, req)
		assert(fd == client_fd, "message for another connection")
		skynet.ignoreret()
		in_order(handle, ok, req)
	end,
}

local CMD = {}

function CMD.start(conf)
	client_fd = conf.client
	watchdog = conf.watchdog
	store = skynet.queryservice("kvstore")
	local p = protoc.new()
	p.paths = { (skynet.getenv "root" or "./") .. "proto" }
	assert(p:loadfile "game.proto")
	skynet.call(conf.gate, "lua", "forward", client_fd)
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
