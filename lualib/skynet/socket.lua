-- skynet.socket for skyhold: TCP and UDP sockets whose reads suspend the
-- calling coroutine until enough data has arrived. Events come from the
-- runtime's socket server as PTYPE_SOCKET messages; every operation is
-- checked there against who owns the socket.
local skynet = require "skynet"
local driver = require "skynet.socketdriver"
local c = require "skynet.core"

local assert, error, type, tostring = assert, error, type, tostring
local string_find, string_sub, table_concat = string.find, string.sub, table.concat
local co_running = coroutine.running
local framework_yield = skynet.framework_yield
local c_socket_wake = c.socket_wake

-- What a reader yields to the runtime to wait for data on a socket (see
-- suspend below).
local SOCKET_WAIT = c.YIELD.SOCKET

local socket = {}
local sockets = {}   -- id -> state

local EVENT_DATA, EVENT_CONNECT, EVENT_CLOSE, EVENT_ACCEPT, EVENT_ERROR, EVENT_UDP, EVENT_WARNING = 1, 2, 3, 4, 5, 6, 7

-- Buffered bytes: a list of chunks, the first partly consumed.
local function buf_push(s, data)
	local n = #s.chunks + 1
	s.chunks[n] = data
	s.size = s.size + #data
end

local function buf_take_all(s)
	if s.size == 0 then
		return ""
	end
	local chunks = s.chunks
	local out
	if chunks[2] == nil then
		-- One chunk (the usual case for a reader that keeps up): hand it
		-- over without building a new string or a new table.
		out = chunks[1]
		chunks[1] = nil
		if s.offset > 1 then
			out = string_sub(out, s.offset)
		end
	else
		if s.offset > 1 then
			chunks[1] = string_sub(chunks[1], s.offset)
		end
		out = table_concat(chunks)
		s.chunks = {}
	end
	s.offset = 1
	s.size = 0
	return out
end

local function buf_take(s, n)
	if n > s.size then
		return nil
	end
	local all = buf_take_all(s)
	local out = string_sub(all, 1, n)
	if #all > n then
		buf_push(s, string_sub(all, n + 1))
	end
	return out
end

local function buf_take_line(s, sep)
	if s.size == 0 then
		return nil
	end
	local all = buf_take_all(s)
	local i, j = string_find(all, sep, 1, true)
	if not i then
		buf_push(s, all)
		return nil
	end
	local line = string_sub(all, 1, i - 1)
	if j < #all then
		buf_push(s, string_sub(all, j + 1))
	end
	return line
end

local function new_state(id, extra)
	local s = {
		id = id,
		chunks = {},
		offset = 1,
		size = 0,
		connected = false,
		closed = false,
		waiting = nil,   -- coroutine waiting for data or for connect
		want = nil,      -- what the waiting reader needs
	}
	if extra then
		for k, v in pairs(extra) do
			s[k] = v
		end
	end
	sockets[id] = s
	return s
end

-- A reader waits for data in the runtime (it resumes the reader with the
-- socket's next data event); a coroutine waiting for connect or close waits
-- with skynet.wait.
local function waits_for_data(want)
	return want ~= "connect" and want ~= "close"
end

local function wake(s)
	local co = s.waiting
	if co then
		s.waiting = nil
		if waits_for_data(s.want) then
			c_socket_wake(s.id)
		else
			skynet.wakeup(co)
		end
	end
end

local function satisfied(s)
	local want = s.want
	if want == nil then
		return true
	elseif not waits_for_data(want) then
		return false
	elseif want == true then
		return s.size > 0
	elseif type(want) == "number" then
		return s.size >= want
	else
		-- a line separator
		if s.size == 0 then
			return false
		end
		local all = buf_take_all(s)
		buf_push(s, all)
		return string_find(all, want, 1, true) ~= nil
	end
end

-- Buffers data that arrived on socket s; false if that passed the
-- socket's limit (it is then being closed).
local function push_data(s, data)
	buf_push(s, data)
	if s.limit and s.size > s.limit then
		skynet.error(string.format("socket: buffer of %d passed its limit of %d: closing", s.id, s.limit))
		driver.shutdown(s.id)
		return false
	end
	return true
end

local function suspend(s)
	assert(not s.waiting, "socket is already being read by another coroutine")
	local co = co_running()
	s.waiting = co
	if waits_for_data(s.want) then
		-- Each data event for this socket comes straight here (one resume,
		-- no handler task); anything else resumes this with false.
		repeat
			local kind, _, _, data = framework_yield(SOCKET_WAIT, s.id)
			if kind ~= EVENT_DATA then
				break
			end
		until push_data(s, data) and satisfied(s)
		s.waiting = nil
	else
		skynet.wait(co)
	end
end

local handlers = {}

handlers[EVENT_DATA] = function(id, size, data)
	local s = sockets[id]
	if not s then
		skynet.error("socket: drop data from " .. id)
		return
	end
	if push_data(s, data) and s.waiting and satisfied(s) then
		wake(s)
	end
end

handlers[EVENT_CONNECT] = function(id, ud, addr)
	local s = sockets[id]
	if not s then
		return
	end
	s.connected = true
	s.address = addr
	if s.want == "connect" then
		wake(s)
	end
end

handlers[EVENT_CLOSE] = function(id)
	local s = sockets[id]
	if not s then
		return
	end
	s.connected = false
	s.closed = true
	wake(s)
	if s.on_close then
		s.on_close(id)
	end
end

handlers[EVENT_ACCEPT] = function(listen_id, newid, addr)
	local s = sockets[listen_id]
	if not s or not s.callback then
		driver.shutdown(newid)
		return
	end
	s.callback(newid, addr)
end

handlers[EVENT_ERROR] = function(id, ud, text)
	local s = sockets[id]
	if not s then
		return
	end
	if s.connected then
		skynet.error("socket: error on " .. id .. " " .. tostring(text))
	end
	s.error = text
	s.connected = false
	wake(s)
end

handlers[EVENT_UDP] = function(id, size, data)
	local s = sockets[id]
	if not s or not s.callback then
		return
	end
	s.callback(string_sub(data, 1, size), string_sub(data, size + 1))
end

handlers[EVENT_WARNING] = function(id, kb)
	local s = sockets[id]
	if s and s.on_warning then
		s.on_warning(id, kb)
	else
		skynet.error(string.format("WARNING: %d K bytes need to send out (fd = %d)", kb, id))
	end
end

skynet.register_protocol {
	name = "socket",
	id = skynet.PTYPE_SOCKET,
	unpack = driver.unpack,
	dispatch = function(_, _, t, id, ud, data)
		local h = handlers[t]
		if h then
			h(id, ud, data)
		end
	end,
}

local function split(addr, port)
	if port then
		return addr, port
	end
	local host, p = string.match(addr, "^%[?(.-)%]?:(%d+)$")
	return host, tonumber(p)
end

function socket.open(addr, port)
	addr, port = split(addr, port)
	local id, err = driver.connect(addr, port)
	if not id then
		return nil, err
	end
	local s = new_state(id)
	s.want = "connect"
	if not s.connected then
		suspend(s)
	end
	s.want = nil
	if s.connected then
		return id
	end
	sockets[id] = nil
	return nil, s.error or "connect failed"
end

function socket.listen(host, port, backlog)
	if port == nil then
		host, port = split(host)
	end
	local id, addr, p = driver.listen(host, port, backlog)
	if not id then
		error("Listen error: " .. tostring(addr))
	end
	return id, addr, p
end

function socket.start(id, func)
	local s = sockets[id]
	if not s then
		s = new_state(id)
	end
	s.callback = func
	local ok, err = driver.start(id)
	if not ok then
		sockets[id] = nil
		return nil, err
	end
	if func then
		-- a listener, or a UDP socket: no connect to wait for
		s.connected = true
		return id
	end
	if not s.connected and not s.closed then
		s.want = "connect"
		suspend(s)
		s.want = nil
	end
	if s.connected then
		return id
	end
	sockets[id] = nil
	return nil, s.error or "closed"
end

local function read_result(s, data)
	if data then
		return data
	end
	return false, buf_take_all(s)
end

function socket.read(id, n)
	local s = assert(sockets[id], "invalid socket")
	if n == nil then
		if s.size > 0 then
			return buf_take_all(s)
		end
		if not s.connected then
			return false, ""
		end
		s.want = true
		suspend(s)
		s.want = nil
		if s.size > 0 then
			return buf_take_all(s)
		end
		return false, ""
	end
	local data = buf_take(s, n)
	if data then
		return data
	end
	if not s.connected then
		return false, buf_take_all(s)
	end
	s.want = n
	suspend(s)
	s.want = nil
	return read_result(s, buf_take(s, n))
end

function socket.readline(id, sep)
	sep = sep or "\n"
	local s = assert(sockets[id], "invalid socket")
	local line = buf_take_line(s, sep)
	if line then
		return line
	end
	if not s.connected then
		return false, buf_take_all(s)
	end
	s.want = sep
	suspend(s)
	s.want = nil
	return read_result(s, buf_take_line(s, sep))
end

function socket.readall(id)
	local s = assert(sockets[id], "invalid socket")
	while s.connected do
		s.want = 1 << 62
		suspend(s)
		s.want = nil
	end
	return buf_take_all(s)
end

function socket.block(id)
	local s = sockets[id]
	if not s or not s.connected then
		return false
	end
	if s.size == 0 then
		s.want = true
		suspend(s)
		s.want = nil
	end
	return s.connected
end

function socket.write(id, data)
	return (driver.send(id, data))
end

function socket.lwrite(id, data)
	return (driver.lsend(id, data))
end

function socket.close(id)
	local s = sockets[id]
	driver.close(id)
	if s then
		if s.waiting and waits_for_data(s.want) then
			-- Another coroutine reads this socket: its close event will
			-- find no socket, so wake the reader now; it gets what is
			-- buffered and then the end, as on skynet.
			s.connected = false
			s.closed = true
			wake(s)
		elseif s.connected and not s.waiting and not s.udp then
			s.want = "close"
			suspend(s)
			s.want = nil
		end
		sockets[id] = nil
	end
end

-- Ends the connection at once (unsent data is dropped). The service keeps
-- the socket, as skynet does: a coroutine reading it wakes with false when
-- the close arrives, what arrived before stays readable, and the caller
-- still calls socket.close(id) to forget it.
function socket.shutdown(id)
	driver.shutdown(id)
end

-- skyhold's own: shuts the socket and forgets it at once, for a finalizer,
-- which cannot wait for socket.close (nothing may read it any more).
function socket.shutdown_forget(id)
	driver.shutdown(id)
	sockets[id] = nil
end

function socket.close_fd(id)
	assert(sockets[id] == nil, "use socket.close instead")
	driver.shutdown(id)
end

function socket.abandon(id)
	driver.abandon(id)
	sockets[id] = nil
end

function socket.invalid(id)
	return sockets[id] == nil
end

function socket.disconnected(id)
	local s = sockets[id]
	return s ~= nil and not s.connected
end

function socket.limit(id, bytes)
	local s = assert(sockets[id], "invalid socket")
	s.limit = bytes
end

function socket.warning(id, callback)
	local s = assert(sockets[id], "invalid socket")
	s.on_warning = callback
end

function socket.onclose(id, callback)
	local s = assert(sockets[id], "invalid socket")
	s.on_close = callback
end

function socket.nodelay(id)
	driver.nodelay(id)
end

function socket.pause(id)
	-- Reading pauses by itself when this service falls behind.
end

function socket.header(s)
	local n = #s
	if n < 1 or n > 4 then
		error("Invalid header length " .. n)
	end
	local v = 0
	for i = 1, n do
		v = v * 256 + s:byte(i)
	end
	return v
end

-- UDP ------------------------------------------------------------------------

function socket.udp(callback, host, port)
	local id, addr, bound = driver.udp(host, port)
	if not id then
		error(addr)
	end
	local s = new_state(id)
	s.callback = callback
	s.connected = true
	s.udp = true
	-- skynet returns the id; the bound address and port come after it.
	return id, addr, bound
end

function socket.udp_connect(id, host, port, callback)
	local s = sockets[id]
	if s and callback then
		s.callback = callback
	end
	driver.udp_connect(id, host, port)
end

function socket.udp_listen(host, port, callback)
	return socket.udp(callback, host, port)
end

function socket.udp_dial(host, port, callback)
	local id = socket.udp(callback)
	socket.udp_connect(id, host, port)
	return id
end

function socket.sendto(id, address, data)
	return driver.udp_send(id, address, data)
end

function socket.udp_address(address)
	return driver.udp_address(address)
end

-- skynet's socket.netstat(): one table per socket (id, address, type, read,
-- write, wbuffer, rtime, wtime, reading, writing, peer; accept and sock for a
-- listener). A service sees its own sockets; the console sees them all.
socket.netstat = driver.info

function socket.bind(fd)
	return driver.bind(fd)
end

function socket.stdin()
	return socket.bind(0)
end

return socket
