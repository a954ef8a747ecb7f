-- http.sockethelper for skyhold: read and write functions over a
-- skynet.socket connection that raise `sockethelper.socket_error` when the
-- connection is gone, and a connect with a timeout (centiseconds), as
-- skynet's http libraries use them.
local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"

local error, tostring, setmetatable = error, tostring, setmetatable

local sockethelper = {}

-- The error value raised for a closed or failed connection. Comparing an
-- error with it (`err == sockethelper.socket_error`) tells a lost
-- connection from a protocol error; calling it attaches a description
-- that its first tostring returns.
local socket_error = setmetatable({}, {
	__call = function(self, info)
		self.info = "[Socket Error] : " .. tostring(info)
		return self
	end,
	__tostring = function(self)
		local info = self.info
		self.info = nil
		return info or "[Socket Error]"
	end,
})
sockethelper.socket_error = socket_error

-- Which socket a read function made here reads (weak keys), so httpd can
-- put a deadline on a request read through one.
local reader_fd = setmetatable({}, { __mode = "k" })

function sockethelper.fd_of(readfunc)
	return reader_fd[readfunc]
end

local function must_read(fd, sz)
	local data = socket.read(fd, sz)
	if not data then
		error(socket_error("read failed fd = " .. fd))
	end
	return data
end

-- readfunc(fd [, pre]): a function(sz) returning exactly sz bytes (any
-- available bytes for sz == nil); `pre` is data already read that comes
-- first.
function sockethelper.readfunc(fd, pre)
	local f
	if pre and #pre > 0 then
		local pending = pre
		f = function(sz)
			if not pending then
				return must_read(fd, sz)
			end
			local n = #pending
			if sz == nil or sz == n then
				local out = pending
				pending = nil
				return out
			elseif sz < n then
				local out = pending:sub(1, sz)
				pending = pending:sub(sz + 1)
				return out
			end
			local head = pending
			pending = nil
			return head .. must_read(fd, sz - n)
		end
	else
		f = function(sz)
			return must_read(fd, sz)
		end
	end
	reader_fd[f] = fd
	return f
end

sockethelper.readall = socket.readall

function sockethelper.writefunc(fd)
	return function(content)
		if not socket.write(fd, content) then
			error(socket_error("write failed fd = " .. fd))
		end
	end
end

-- connect(host, port [, timeout]): the connection's id, or raises
-- socket_error. With a timeout (centiseconds) the caller waits at most that
-- long; a connection that completes later is closed.
function sockethelper.connect(host, port, timeout)
	local fd, err
	local timed_out = false
	if timeout then
		local co = coroutine.running()
		local waiting = true
		skynet.fork(function()
			local id, e = socket.open(host, port)
			if waiting then
				fd, err = id, e
				waiting = false
				skynet.wakeup(co)
			elseif id then
				-- too late: the caller already gave up
				socket.close(id)
			end
		end)
		skynet.sleep(timeout)
		if waiting then
			waiting = false
			timed_out = true
		end
	else
		fd, err = socket.open(host, port)
	end
	if fd then
		return fd
	end
	error(socket_error(string.format(
		"connect failed host = %s port = %s timeout = %s err = %s is_time_out = %s",
		tostring(host), tostring(port), tostring(timeout), tostring(err), tostring(timed_out))))
end

function sockethelper.close(fd)
	socket.close(fd)
end

-- Ends the connection now; a coroutine reading it wakes with
-- socket_error, and the caller still closes it (socket.close) afterwards.
function sockethelper.shutdown(fd)
	driver.shutdown(fd)
end

return sockethelper
