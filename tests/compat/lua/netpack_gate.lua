-- A gate written the way skynet's snax.gateserver is: the socket protocol's
-- unpack is netpack.filter over raw connection data, "more" drains the queue
-- with netpack.pop, and replies go out through netpack.pack. A Rust client
-- (tests/compat/crypt.rs) sends frames split across writes and many in one
-- write; a second client passes the queue's limit (netpack_buffer) and must
-- be told so and closed, while the first goes on.
local skynet = require "skynet"
local socketdriver = require "skynet.socketdriver"
local netpack = require "skynet.netpack"

local queue
local listen_id
local frames = 0
local errors = {}
local closed = {}
local MSG = {}

local function reply(fd, text)
	socketdriver.send(fd, netpack.pack(text))
end

local function handle(fd, msg, sz)
	local text = netpack.tostring(msg, sz)
	assert(#text == sz)
	frames = frames + 1
	if text == "finish" then
		local cut
		for id, e in pairs(errors) do
			if id ~= fd and e:find("netpack_buffer", 1, true) then
				cut = id
			end
		end
		assert(cut, "the flooding connection was reported")
		reply(fd, "ok " .. frames)
		skynet.error("PASS")
	elseif #text > 100 then
		reply(fd, "len:" .. #text)
	else
		reply(fd, "echo:" .. text)
	end
end

local function dispatch_queue()
	local fd, msg, sz = netpack.pop(queue)
	if fd then
		-- As skynet's gateserver does: a handler that blocks must not hold
		-- up the frames behind it.
		skynet.fork(dispatch_queue)
		handle(fd, msg, sz)
		for id, m, n in netpack.pop, queue do
			handle(id, m, n)
		end
	end
end

MSG.data = handle
MSG.more = dispatch_queue

function MSG.open(fd, addr)
	assert(type(addr) == "string")
	socketdriver.start(fd)
end

function MSG.close(fd)
	closed[fd] = true
end

function MSG.error(fd, msg)
	skynet.error(string.format("gate: connection %d: %s", fd, msg))
	errors[fd] = msg
	socketdriver.close(fd)
end

function MSG.warning(fd, size)
	skynet.error(string.format("gate: %d KiB waiting on %d", size, fd))
end

function MSG.init() end

skynet.register_protocol {
	name = "socket",
	id = skynet.PTYPE_SOCKET,
	unpack = function(msg, sz)
		return netpack.filter(queue, msg, sz)
	end,
	dispatch = function(_, _, q, type, ...)
		queue = q
		if type then
			MSG[type](...)
		end
	end,
}

skynet.start(function()
	-- The API as skynet's gateserver and hand-written gates use it.
	assert(netpack.pack("hi") == "\0\2hi")
	local ok, err = pcall(netpack.pack, string.rep("x", 65536))
	assert(not ok and err == "Invalid size (too long) of data : 65536", err)
	assert(select("#", netpack.pop(nil)) == 0)
	netpack.clear(nil)
	local id, _, port = socketdriver.listen("127.0.0.1", 0)
	listen_id = assert(id)
	socketdriver.start(listen_id)
	skynet.error("LISTEN " .. port)
end)
