-- snax.gateserver for skyhold: a listening socket whose connections deliver
-- whole 2-byte-length frames to a handler. Framing, frame size, frame time,
-- inbound rate and idle limits are enforced by the runtime's socket server;
-- a connection that breaks one is closed and handler.error hears why.
local skynet = require "skynet"
local driver = require "skynet.socketdriver"

local gateserver = {}

local EVENT_CONNECT, EVENT_CLOSE, EVENT_ACCEPT, EVENT_ERROR, EVENT_WARNING, EVENT_FRAME = 2, 3, 4, 5, 7, 8

local listen_id
local maxclient
local client_number = 0
local nodelay = false
local connection = {}   -- fd -> true once reading

function gateserver.openclient(fd)
	if connection[fd] ~= nil then
		connection[fd] = true
		driver.start(fd)
	end
end

function gateserver.closeclient(fd)
	if connection[fd] ~= nil then
		connection[fd] = nil
		client_number = client_number - 1
		driver.close(fd)
	end
end

function gateserver.start(handler)
	assert(handler.message, "handler.message is required")
	assert(handler.connect, "handler.connect is required")

	local CMD = {}

	function CMD.open(source, conf)
		assert(not listen_id, "gate already open")
		local address = conf.address
		if address == nil then
			address = "127.0.0.1"
			skynet.error("gate: no address given, listening on 127.0.0.1 only; set conf.address = \"0.0.0.0\" to accept clients from other hosts")
		end
		local port = assert(tonumber(conf.port), "conf.port is required")
		maxclient = conf.maxclient or 1024
		nodelay = conf.nodelay
		skynet.error(string.format("Listen on %s:%d", address, port))
		local id, addr, bound = driver.listen(address, port, conf.backlog)
		if not id then
			error("Listen error: " .. tostring(addr))
		end
		listen_id = id
		driver.start(id)
		if handler.open then
			return handler.open(source, conf, addr, bound)
		end
		return addr, bound
	end

	function CMD.close()
		assert(listen_id, "gate not open")
		driver.close(listen_id)
		listen_id = nil
	end

	local events = {}

	events[EVENT_ACCEPT] = function(id, fd, addr)
		client_number = client_number + 1
		if client_number >= maxclient then
			client_number = client_number - 1
			driver.shutdown(fd)
			return
		end
		connection[fd] = false
		driver.frame(fd, 2)
		if nodelay then
			driver.nodelay(fd)
		end
		handler.connect(fd, addr)
	end

	events[EVENT_FRAME] = function(fd, sz, msg)
		if connection[fd] then
			handler.message(fd, msg, sz)
		end
	end

	local function closed(fd)
		if connection[fd] ~= nil then
			connection[fd] = nil
			client_number = client_number - 1
			if handler.disconnect then
				handler.disconnect(fd)
			end
		end
	end

	events[EVENT_CLOSE] = function(fd)
		if fd == listen_id then
			listen_id = nil
		else
			closed(fd)
		end
	end

	events[EVENT_ERROR] = function(fd, _, msg)
		if fd == listen_id then
			skynet.error("gate: listen socket error: " .. tostring(msg))
		elseif connection[fd] ~= nil and handler.error then
			handler.error(fd, msg)
		end
	end

	events[EVENT_WARNING] = function(fd, kb)
		if handler.warning then
			handler.warning(fd, kb)
		end
	end

	events[EVENT_CONNECT] = function() end

	skynet.register_protocol {
		name = "socket",
		id = skynet.PTYPE_SOCKET,
		unpack = driver.unpack,
		dispatch = function(_, _, t, id, ud, data)
			local f = events[t]
			if f then
				f(id, ud, data)
			end
		end,
	}

	local function init()
		skynet.dispatch("lua", function(_, address, cmd, ...)
			local f = CMD[cmd]
			if f then
				skynet.ret(skynet.pack(f(address, ...)))
			else
				skynet.ret(skynet.pack(handler.command(cmd, address, ...)))
			end
		end)
	end

	if handler.embed then
		init()
	else
		skynet.start(init)
	end
end

return gateserver
