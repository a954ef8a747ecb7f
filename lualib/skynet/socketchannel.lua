-- skynet.socketchannel for skyhold: one TCP connection shared by many
-- coroutines, as skynet's. A request is written, then its caller sleeps
-- until the channel's reader coroutine has read the matching reply:
--   order mode   (no `response` in the description): replies come back in
--                the order requests were sent; each request brings the
--                function that reads its reply;
--   session mode (`response` given): the reader calls response(sock), which
--                returns the session a reply belongs to.
-- A lost connection wakes every waiter with `socketchannel.error` (or the
-- reader's error text); the next request connects again (backup hosts, the
-- auth function and the reconnect delays as skynet's).
local skynet = require "skynet"
local socket = require "skynet.socket"
local socketdriver = require "skynet.socketdriver"

local assert, error, pcall, type, ipairs, pairs = assert, error, pcall, type, ipairs, pairs
local setmetatable = setmetatable
local co_running = coroutine.running
local tinsert, tremove = table.insert, table.remove

local M = {}

-- What waiters see when the connection is gone.
local SOCKET_ERROR = setmetatable({}, { __tostring = function() return "[Error: socket]" end })
M.error = SOCKET_ERROR

-- The socket object handed to reply readers and to the auth function.
local function checked(f)
	return function(so, ...)
		local r = f(so[1], ...)
		if not r then
			error(SOCKET_ERROR)
		end
		return r
	end
end

local sock_methods = {
	read = checked(socket.read),
	readline = checked(socket.readline),
}

-- Whether the Lua state is being closed. Finalizers must not call into the
-- runtime then: at close every object is finalized, and a native function
-- finalized before a channel would be called after it was freed. Each new
-- channel is followed by a fresh sentinel (finalizers run in the reverse
-- order objects were marked, so it runs before that channel's); only the
-- current sentinel is held, retired ones say nothing when collected.
local state_closing = false
local sentinel_meta = {
	__gc = function(s)
		if not s.retired then
			state_closing = true
		end
	end,
}
local sentinel = false

local function renew_sentinel()
	if sentinel then
		sentinel.retired = true
	end
	sentinel = setmetatable({}, sentinel_meta)
end

local function sock_gc(so)
	if state_closing then
		return
	end
	local fd = so[1]
	so[1] = false
	if fd then
		socket.shutdown_forget(fd)
	end
end

local default_sock_meta = { __index = sock_methods, __gc = sock_gc }

local channel = {}
local channel_meta = { __index = channel }

--- Makes a channel from `desc` (host, port, backup, auth, response,
--- nodelay, overload, socket_read, socket_readline; and skyhold's read_limit,
--- the most bytes a connection buffers unread before it is closed). It
--- connects on first use or on `connect`.
function M.channel(desc)
	local sock_meta = default_sock_meta
	if desc.socket_read or desc.socket_readline then
		sock_meta = {
			__index = {
				read = desc.socket_read or sock_methods.read,
				readline = desc.socket_readline or sock_methods.readline,
			},
			__gc = sock_gc,
		}
	end
	local self = {
		__host = assert(desc.host),
		__port = desc.port,
		__backup = desc.backup,
		__auth = desc.auth,
		__response = desc.response,
		__request = {},      -- order mode: reply readers, in send order
		__thread = {},       -- order mode: their coroutines; session mode: session -> coroutine
		__result = {},       -- coroutine -> ok flag (or SOCKET_ERROR)
		__result_data = {},  -- coroutine -> reply or error text
		__connecting = {},
		__sock = false,
		__closed = false,
		__authcoroutine = false,
		__nodelay = desc.nodelay,
		__overload_notify = desc.overload,
		__overload = false,
		__socket_meta = sock_meta,
		-- skyhold: bytes a connection may buffer unread (socket.limit);
		-- readers see it as so.read_limit
		__read_limit = desc.read_limit,
	}
	setmetatable(self, channel_meta)
	renew_sentinel()
	return self
end

-- Drops the current connection (never raises).
local function drop_socket(self)
	local so = self.__sock
	if not so then
		return
	end
	self.__sock = false
	local waiting = self.__wait_response
	if waiting then
		self.__wait_response = nil
		skynet.wakeup(waiting)
	end
	pcall(socket.close, so[1])
end

-- Hands `co` its outcome and wakes it.
local function settle(self, co, ok, data)
	self.__result[co] = ok
	self.__result_data[co] = data
	skynet.wakeup(co)
end

-- Wakes every waiter with the socket error (and `errmsg`, if any).
local function fail_all(self, errmsg)
	local threads = self.__thread
	if self.__response then
		for session, co in pairs(threads) do
			threads[session] = nil
			settle(self, co, SOCKET_ERROR, errmsg)
		end
	else
		local requests = self.__request
		for i = #requests, 1, -1 do
			requests[i] = nil
		end
		for i = 1, #threads do
			local co = threads[i]
			threads[i] = nil
			if co then -- false marks the reader's stop signal
				settle(self, co, SOCKET_ERROR, errmsg)
			end
		end
	end
end

-- A reply for `co`: a part (more to come) is collected in a list; the last
-- part (or a whole reply) wakes it.
local function deliver(self, co, ok, data)
	local collected = self.__result_data[co]
	self.__result[co] = ok
	if ok and collected then
		tinsert(collected, data)
	else
		self.__result_data[co] = data
	end
	skynet.wakeup(co)
end

local function read_by_session(self)
	local response = self.__response
	while self.__sock do
		local ok, session, result_ok, result_data, padding = pcall(response, self.__sock)
		if not ok or not session then
			drop_socket(self)
			local errmsg
			if session ~= SOCKET_ERROR then
				errmsg = session
			end
			fail_all(self, errmsg)
		else
			local co = self.__thread[session]
			if not co then
				self.__thread[session] = nil
				skynet.error("socket: unknown session :", session)
			else
				if padding and result_ok then
					local parts = self.__result_data[co]
					if not parts then
						parts = {}
						self.__result_data[co] = parts
					end
					tinsert(parts, result_data)
				else
					self.__thread[session] = nil
					deliver(self, co, result_ok, result_data)
				end
				if not self.__sock then
					fail_all(self, "channel_closed")
					break
				end
			end
		end
	end
end

-- Order mode: the next (reader, coroutine) pair, waiting for one if none
-- is queued; nothing once the connection is gone.
local function next_request(self)
	while self.__sock do
		local f = tremove(self.__request, 1)
		local co = tremove(self.__thread, 1)
		if f then
			return f, co
		end
		local me = co_running()
		self.__wait_response = me
		skynet.wait(me)
	end
end

-- Reads one reply with `f`; a reply in parts (third result true) is read on
-- until the last part and returned as a list.
local function read_reply(f, so)
	local ok, data, more = f(so)
	if not (ok and more) then
		return ok, data
	end
	local parts = { data }
	repeat
		ok, data, more = f(so)
		if not ok then
			return ok, data
		end
		parts[#parts + 1] = data
	until not more
	return true, parts
end

local function read_by_order(self)
	while self.__sock do
		local f, co = next_request(self)
		if not co then
			-- the stop signal, or the connection went while waiting
			fail_all(self, "channel_closed")
			break
		end
		local so = self.__sock
		if not so then
			settle(self, co, SOCKET_ERROR, nil)
			fail_all(self)
			break
		end
		local ok, result_ok, result_data = pcall(read_reply, f, so)
		if ok then
			deliver(self, co, result_ok, result_data)
			if not self.__sock then
				fail_all(self, "channel_closed")
				break
			end
		else
			drop_socket(self)
			local errmsg
			if result_ok ~= SOCKET_ERROR then
				errmsg = result_ok
			end
			settle(self, co, SOCKET_ERROR, errmsg)
			fail_all(self, errmsg)
		end
	end
end

-- Queues the wait for a reply: a session (session mode) or a reader
-- function (order mode).
local function expect(self, response, co)
	if self.__response then
		self.__thread[response] = co
		return
	end
	tinsert(self.__request, response)
	tinsert(self.__thread, co)
	local waiting = self.__wait_response
	if waiting then
		self.__wait_response = nil
		skynet.wakeup(waiting)
	end
end

-- Tells an order-mode reader of an old connection to stop.
local function stop_reader(self)
	if not self.__response and self.__dispatch_thread then
		expect(self, true, false)
	end
end

local function start_reader(self)
	local reader
	if self.__response then
		reader = read_by_session
	else
		local fd = self.__sock[1]
		socket.onclose(fd, function(id)
			local so = self.__sock
			if self.__wait_response and so and so[1] == id then
				skynet.error("socket closed by peer : ", self.__host, self.__port)
				drop_socket(self)
			end
		end)
		reader = read_by_order
	end
	self.__dispatch_thread = skynet.fork(function()
		-- the socket may be gone already if auth failed at once
		if self.__sock then
			pcall(reader, self)
		end
		self.__dispatch_thread = nil
	end)
end

local function watch_overload(self, fd)
	local notify = self.__overload_notify
	if not notify then
		return
	end
	local function trigger(id, size)
		if id ~= self.__sock[1] then
			return
		end
		if size == 0 then
			if self.__overload then
				self.__overload = false
				notify(false)
			end
		elseif not self.__overload then
			self.__overload = true
			notify(true)
		else
			skynet.error(string.format("WARNING: %d K bytes need to send out (fd = %d)", size, id), self.__host, self.__port)
		end
	end
	skynet.fork(trigger, fd, 0)
	socket.warning(fd, trigger)
end

local connect_once

-- Connects to `addr`, then to each address in `pending` in turn, until one
-- connects and (if there is an auth function) authenticates.
local function connect_to(self, addr, pending, seen)
	local function add_backups()
		local backup = self.__backup
		if not backup then
			return
		end
		for _, b in ipairs(backup) do
			local host, port
			if type(b) == "table" then
				host, port = b.host, b.port
			else
				host, port = b, self.__port
			end
			local key = host .. ":" .. port
			if not seen[key] then
				seen[key] = true
				pending[#pending + 1] = { host = host, port = port }
			end
		end
	end
	local function next_backup()
		local a = tremove(pending, 1)
		if a then
			skynet.error("socket: connect to backup host", a.host, a.port)
		end
		return a
	end
	if addr == nil then
		add_backups()
		addr = { host = self.__host, port = self.__port }
	end
	while true do
		local fd, err = socket.open(addr.host, addr.port)
		if fd then
			self.__host, self.__port = addr.host, addr.port
			assert(not self.__sock and not self.__authcoroutine)
			stop_reader(self)
			if self.__nodelay then
				socketdriver.nodelay(fd)
			end
			watch_overload(self, fd)
			while self.__dispatch_thread do
				skynet.yield()
			end
			local limit = self.__read_limit
			if limit then
				socket.limit(fd, limit)
			end
			self.__sock = setmetatable({ fd, read_limit = limit }, self.__socket_meta)
			renew_sentinel()
			start_reader(self)
			local auth = self.__auth
			if not auth then
				return true
			end
			self.__authcoroutine = co_running()
			local ok, msg = pcall(auth, self)
			self.__authcoroutine = false
			if ok then
				if not self.__sock then
					-- auth changed the host: connect again
					return connect_once(self)
				end
				return true
			end
			drop_socket(self)
			if msg ~= SOCKET_ERROR then
				skynet.error("socket: auth failed", msg)
			end
			add_backups() -- auth may have given new backups
			addr = next_backup()
			if addr == nil then
				return false, "no more backup host"
			end
		else
			addr = next_backup()
			if addr == nil then
				return false, err
			end
		end
	end
end

function connect_once(self)
	if self.__closed then
		return false
	end
	return connect_to(self, nil, {}, {})
end

-- Connects; without `once`, keeps trying (0, 1, 2 ... seconds apart, a
-- note every 10 seconds) until it connects or the channel is closed.
local function keep_connecting(self, once)
	local delay = 0
	while not self.__closed do
		local ok, err = connect_once(self)
		if ok then
			if not once then
				skynet.error("socket: connect to", self.__host, self.__port)
			end
			return
		end
		if once then
			return err
		end
		skynet.error("socket: connect", err)
		if delay > 1000 then
			skynet.error("socket: try to reconnect", self.__host, self.__port)
			skynet.sleep(delay)
			delay = 0
		else
			skynet.sleep(delay)
		end
		delay = delay + 100
	end
end

-- true: connected; false: closed (or lost during auth); nil: must connect.
local function connection_state(self)
	local so = self.__sock
	if so then
		local authco = self.__authcoroutine
		if socket.disconnected(so[1]) then
			skynet.error("socket: disconnect detected ", self.__host, self.__port)
			drop_socket(self)
			if authco and authco == co_running() then
				return false
			end
			return nil
		end
		if not authco or authco == co_running() then
			return true
		end
	end
	if self.__closed then
		return false
	end
	return nil
end

local function ensure_connected(self, once)
	local state = connection_state(self)
	if state ~= nil then
		return state
	end
	local connecting = self.__connecting
	local err
	if #connecting > 0 then
		-- another coroutine is connecting: wait for it
		local me = co_running()
		tinsert(connecting, me)
		skynet.wait(me)
	else
		connecting[1] = true
		err = keep_connecting(self, once)
		for i = 2, #connecting do
			local co = connecting[i]
			connecting[i] = nil
			skynet.wakeup(co)
		end
		connecting[1] = nil
	end
	state = connection_state(self)
	if state == nil then
		skynet.error("Connect failed", err, self.__host, self.__port)
		error(SOCKET_ERROR)
	end
	return state
end

--- Connects now (once: a single attempt through the backups; otherwise
--- until it succeeds). Raises `socketchannel.error` on failure.
function channel:connect(once)
	self.__closed = false
	return ensure_connected(self, once)
end

local function await(self, response)
	local co = co_running()
	expect(self, response, co)
	skynet.wait(co)
	local ok = self.__result[co]
	local data = self.__result_data[co]
	self.__result[co] = nil
	self.__result_data[co] = nil
	if ok == SOCKET_ERROR then
		if data then
			error(data)
		end
		error(SOCKET_ERROR)
	end
	assert(ok, data)
	return data
end

local function write_failed(self)
	drop_socket(self)
	fail_all(self)
	error(SOCKET_ERROR)
end

--- Sends `request` (a string or a list of strings; `padding`, a list of
--- more parts) and, unless `response` is nil, waits for its reply: in order
--- mode `response` is the reader function, in session mode the session.
function channel:request(request, response, padding)
	assert(ensure_connected(self, true))
	local fd = self.__sock[1]
	if padding then
		if not socket.lwrite(fd, request) then
			write_failed(self)
		end
		for _, part in ipairs(padding) do
			if not socket.lwrite(fd, part) then
				write_failed(self)
			end
		end
	elseif not socket.write(fd, request) then
		write_failed(self)
	end
	if response == nil then
		return
	end
	return await(self, response)
end

--- Waits for a reply nobody asked for (a pushed message), read by
--- `response` (order mode) or delivered under that session.
function channel:response(response)
	assert(ensure_connected(self))
	return await(self, response)
end

--- Closes the channel: its connection goes, and it does not reconnect
--- until `connect` is called again.
function channel:close()
	if self.__closed then
		return
	end
	stop_reader(self)
	self.__closed = true
	drop_socket(self)
end

--- Points the channel at another host (and port); the current connection
--- is dropped, the next request connects there.
function channel:changehost(host, port)
	self.__host = host
	if port then
		self.__port = port
	end
	if not self.__closed then
		drop_socket(self)
	end
end

--- Replaces the list of backup hosts.
function channel:changebackup(backup)
	self.__backup = backup
end

channel_meta.__gc = function(self)
	if not state_closing then
		self:close()
	end
end

return M
