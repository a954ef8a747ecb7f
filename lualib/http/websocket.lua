-- http.websocket for skyhold: skynet's WebSocket (RFC 6455) server and
-- client, over ws:// or wss://.
--
--   websocket.accept(id, handle [, protocol [, addr [, options]]])
--       serve connection `id` ("ws" or "wss"); `handle` may have connect,
--       handshake(id, header, url), message(id, data, "text"|"binary"),
--       ping, pong, close(id, code, reason), error, warning. Returns true
--       when the connection ended normally, false, err otherwise.
--       options.upgrade = { header =, method =, url = } takes over a
--       request http.httpd already read.
--   websocket.connect(url [, header [, timeout]]) -> id
--   websocket.read(id) -> message, or false, close payload
--   websocket.write(id, data [, "text"|"binary" [, masking_key]])
--   websocket.ping(id), websocket.close(id [, code [, reason]])
--   websocket.addrinfo(id), websocket.real_ip(id), websocket.is_close(id)
--
-- Limits (config keys, read once per service):
--   websocket_max_frame      payload bytes of one frame (default 256 KiB)
--   websocket_max_message    bytes of a message assembled from fragments
--                            (default 1 MiB)
--   websocket_max_rate       frames a connection may send per second
--                            (default 1000; 0: no limit)
--   websocket_handshake_timeout  centiseconds for a client to finish the
--                            opening handshake (default 1000)
-- A peer that breaks one is sent a close frame (1009 too big, 1008 too
-- fast, 1002 protocol error) and the connection ends; websocket.counters
-- counts them.
local skynet = require "skynet"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"
local internal = require "http.internal"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"

local socket_error = sockethelper.socket_error
local string, table = string, table
local assert, error, pairs, pcall, xpcall, tonumber, tostring = assert, error, pairs, pcall, xpcall,
	tonumber, tostring

local GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

local function config_number(key, default)
	local v = math.tointeger(tonumber(skynet.getenv(key)))
	if v and v >= 0 then
		return v
	end
	return default
end

local M = {}

M.MAX_FRAME = config_number("websocket_max_frame", 256 * 1024)
M.MAX_MESSAGE = config_number("websocket_max_message", 1024 * 1024)
M.MAX_RATE = config_number("websocket_max_rate", 1000)
M.HANDSHAKE_TIMEOUT = config_number("websocket_handshake_timeout", 1000)

M.counters = {
	accepted = 0,        -- handshakes completed as a server
	refused = 0,         -- handshakes refused
	messages = 0,        -- messages received
	too_large = 0,       -- frames or messages over the limits
	too_fast = 0,        -- connections over the frame rate
	protocol_error = 0,  -- malformed frames
}

local function count(what)
	M.counters[what] = M.counters[what] + 1
end

-- A protocol failure: carries the close code to send.
local failure = {}
failure.__index = failure
failure.__tostring = function(self)
	return self.reason
end
local function fail(code, reason, counter)
	count(counter)
	error(setmetatable({ code = code, reason = reason }, failure))
end

local pool = {}   -- id -> websocket object

local function drop(ws)
	if pool[ws.id] == ws then
		pool[ws.id] = nil
	end
	ws.close()
end

local function is_closed(id)
	return pool[id] == nil
end

-- Puts `payload` in front of what ws.read returns next.
local function unread(ws, payload)
	if #payload == 0 then
		return
	end
	local read = ws.read
	ws.read = function(sz)
		local n = #payload
		if sz == nil or sz == n then
			ws.read = read
			return payload
		elseif sz < n then
			local out = payload:sub(1, sz)
			payload = payload:sub(sz + 1)
			return out
		end
		ws.read = read
		return payload .. read(sz - n)
	end
end

local OP = {
	frame = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA,
	[0x0] = "frame", [0x1] = "text", [0x2] = "binary", [0x8] = "close", [0x9] = "ping",
	[0xA] = "pong",
}

local function write_frame(ws, op, payload, masking_key)
	payload = payload or ""
	local n = #payload
	local first = 0x80 | assert(OP[op])
	if ws.mode == "client" and not masking_key then
		-- RFC 6455: a client masks every frame it sends
		masking_key = string.unpack("<I4", crypt.randomkey())
	end
	local mask = masking_key and 0x80 or 0
	local head
	if n < 126 then
		head = string.pack("BB", first, mask | n)
	elseif n <= 0xffff then
		head = string.pack(">BBI2", first, mask | 126, n)
	else
		head = string.pack(">BBI8", first, mask | 127, n)
	end
	if masking_key then
		local key = string.pack(">I4", masking_key)
		ws.write(head .. key .. crypt.xor_str(payload, key))
	else
		ws.write(head .. payload)
	end
end

local function check_rate(ws)
	if M.MAX_RATE == 0 or ws.mode ~= "server" then
		return
	end
	local now = skynet.now()
	if now - ws.window >= 100 then
		ws.window = now
		ws.frames = 0
	end
	ws.frames = ws.frames + 1
	if ws.frames > M.MAX_RATE then
		fail(1008, "too many frames", "too_fast")
	end
end

local function read_frame(ws)
	local b1, b2 = string.unpack("BB", ws.read(2))
	check_rate(ws)
	local fin = (b1 & 0x80) ~= 0
	local op = OP[b1 & 0x0f]
	if not op or (b1 & 0x70) ~= 0 then
		fail(1002, "invalid frame", "protocol_error")
	end
	local masked = (b2 & 0x80) ~= 0
	local len = b2 & 0x7f
	if len == 126 then
		len = string.unpack(">I2", ws.read(2))
	elseif len == 127 then
		len = string.unpack(">i8", ws.read(8))
	end
	if (b1 & 0x08) ~= 0 and (len > 125 or not fin) then
		fail(1002, "invalid control frame", "protocol_error")
	end
	if len < 0 or len > M.MAX_FRAME then
		fail(1009, "payload_len is too large", "too_large")
	end
	local key = masked and ws.read(4)
	local payload = len > 0 and ws.read(len) or ""
	if key then
		payload = crypt.xor_str(payload, key)
	end
	return fin, op, payload
end

local function close_payload(payload)
	if #payload >= 2 then
		local code = string.unpack(">I2", payload)
		return code, payload:sub(3)
	end
end

local function call_handler(ws, name, ...)
	local h = ws.handle
	local f = h and h[name]
	if f then
		f(ws.id, ...)
	end
end

-- Client side of the opening handshake.
local function client_handshake(ws, host, uri, header)
	local key = crypt.base64encode(crypt.randomkey() .. crypt.randomkey())
	local h = {
		["Upgrade"] = "websocket",
		["Connection"] = "Upgrade",
		["Sec-WebSocket-Version"] = "13",
		["Sec-WebSocket-Key"] = key,
	}
	for k, v in pairs(header or {}) do
		assert(h[k] == nil, k)
		h[k] = v
	end
	local got = {}
	local code, rest = internal.request(ws, "GET", host, uri, got, h)
	if code ~= 101 then
		error(string.format("websocket handshake error: code[%s] info:%s", code, rest))
	end
	unread(ws, rest)
	if type(got.upgrade) ~= "string" or got.upgrade:lower() ~= "websocket" then
		error("websocket handshake upgrade must websocket")
	end
	if type(got.connection) ~= "string" or got.connection:lower() ~= "upgrade" then
		error("websocket handshake connection must upgrade")
	end
	local accept = got["sec-websocket-accept"]
	if type(accept) ~= "string" then
		error("websocket handshake need Sec-WebSocket-Accept")
	end
	if accept ~= crypt.base64encode(crypt.sha1(key .. GUID)) then
		error("websocket handshake invalid Sec-WebSocket-Accept")
	end
end

-- Server side: nil, header, url once answered 101; or an HTTP status and
-- a reason to refuse with.
local function server_handshake(ws, upgrade)
	local header, method, url
	if upgrade then
		header, method, url = upgrade.header, upgrade.method, upgrade.url
	else
		local lines = {}
		local rest = internal.recvheader(ws.read, lines, "")
		if not rest then
			return 413
		end
		unread(ws, rest)
		local version
		method, url, version = (lines[1] or ""):match("^(%a+)%s+(%S+)%s+HTTP/(%d+%.%d+)$")
		if not method then
			return 400, "Bad request line"
		end
		if tonumber(version) < 1.1 then
			return 505
		end
		header = internal.parseheader(lines, 2, {})
	end
	if method ~= "GET" then
		return 400, "need GET method"
	end
	if not header then
		return 400
	end
	local function field(name)
		local v = header[name]
		return type(v) == "string" and v or nil
	end
	local up = field "upgrade"
	if not up or up:lower() ~= "websocket" then
		return 426, "Upgrade Required"
	end
	if not field "host" then
		return 400, "host Required"
	end
	local conn = field "connection"
	if not conn or not conn:lower():find("upgrade", 1, true) then
		return 400, "Connection must Upgrade"
	end
	local key = field "sec-websocket-key"
	if not key then
		return 400, "Sec-WebSocket-Key Required"
	end
	local ok, raw = pcall(crypt.base64decode, key)
	if not ok or #raw ~= 16 then
		return 400, "Sec-WebSocket-Key invalid"
	end
	if field "sec-websocket-version" ~= "13" then
		return 400, "Sec-WebSocket-Version must 13"
	end
	local sub = ""
	local wanted = field "sec-websocket-protocol"
	if wanted then
		for p in wanted:gmatch("[^%s,]+") do
			if p == "chat" then
				sub = "Sec-WebSocket-Protocol: chat\r\n"
			end
		end
		if sub == "" then
			return 400, "Sec-WebSocket-Protocol need include chat"
		end
	end
	ws.real_ip = field "x-real-ip"
	ws.write("HTTP/1.1 101 Switching Protocols\r\n" ..
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" ..
		"Sec-WebSocket-Accept: " .. crypt.base64encode(crypt.sha1(key .. GUID)) .. "\r\n" ..
		sub .. "\r\n")
	return nil, header, url
end

local function serve(ws, options)
	call_handler(ws, "connect")
	local deadline = { done = false }
	if M.HANDSHAKE_TIMEOUT > 0 and not (options and options.upgrade) then
		skynet.timeout(M.HANDSHAKE_TIMEOUT, function()
			if not deadline.done and not is_closed(ws.id) then
				socket.shutdown(ws.id)
			end
		end)
	end
	local code, header, url = server_handshake(ws, options and options.upgrade)
	deadline.done = true
	if code then
		count "refused"
		local ok, err = httpd.write_response(ws.write, code, header)
		if not ok then
			error(err)
		end
		call_handler(ws, "close")
		return
	end
	count "accepted"
	call_handler(ws, "handshake", header, url)
	local parts, size, first_op = nil, 0, nil
	while not is_closed(ws.id) do
		local fin, op, payload = read_frame(ws)
		if op == "close" then
			local c, reason = close_payload(payload)
			write_frame(ws, "close")
			call_handler(ws, "close", c, reason)
			return
		elseif op == "ping" then
			write_frame(ws, "pong", payload)
			call_handler(ws, "ping")
		elseif op == "pong" then
			call_handler(ws, "pong")
		elseif fin and not parts then
			if op == "frame" then
				fail(1002, "continuation without a message", "protocol_error")
			end
			count "messages"
			call_handler(ws, "message", payload, op)
		else
			if parts == nil then
				if op == "frame" then
					fail(1002, "continuation without a message", "protocol_error")
				end
				parts, size, first_op = {}, 0, op
			elseif op ~= "frame" then
				fail(1002, "message interleaved", "protocol_error")
			end
			size = size + #payload
			if size > M.MAX_MESSAGE then
				fail(1009, "message too large", "too_large")
			end
			parts[#parts + 1] = payload
			if fin then
				local msg = table.concat(parts)
				parts = nil
				count "messages"
				call_handler(ws, "message", msg, first_op)
			end
		end
	end
	call_handler(ws, "close")
end

local SSLCTX_SERVER, SSLCTX_CLIENT

local function new_ws(id, protocol, mode, name)
	local ws
	if protocol == "ws" then
		ws = {
			read = sockethelper.readfunc(id),
			write = sockethelper.writefunc(id),
			close = function()
				socket.close(id)
			end,
		}
	elseif protocol == "wss" then
		local tls = require "http.tlshelper"
		local ctx
		if mode == "server" then
			if not SSLCTX_SERVER then
				SSLCTX_SERVER = tls.newctx()
				SSLCTX_SERVER:set_cert(skynet.getenv "certfile" or "./server-cert.pem",
					skynet.getenv "keyfile" or "./server-key.pem")
			end
			ctx = tls.newtls("server", SSLCTX_SERVER)
			tls.init_responsefunc(id, ctx)()
		else
			SSLCTX_CLIENT = SSLCTX_CLIENT or tls.newctx()
			ctx = tls.newtls("client", SSLCTX_CLIENT, name)
			tls.init_requestfunc(id, ctx)()
		end
		ws = {
			read = tls.readfunc(id, ctx),
			write = tls.writefunc(id, ctx),
			close = function()
				socket.close(id)
				tls.closefunc(ctx)()
			end,
		}
	else
		error(string.format("invalid websocket protocol:%s", tostring(protocol)))
	end
	ws.id = id
	ws.mode = mode
	ws.window = skynet.now()
	ws.frames = 0
	pool[id] = ws
	return ws
end

function M.accept(id, handle, protocol, addr, options)
	if not (options and options.upgrade) then
		local ok, err = socket.start(id)
		if not ok then
			return false, err
		end
	end
	local okn, ws = pcall(new_ws, id, protocol or "ws", "server")
	if not okn then
		socket.close(id)
		return false, ws
	end
	ws.handle = handle
	ws.addr = addr
	if handle and handle.warning then
		socket.warning(id, function(_, size)
			handle.warning(ws, size)
		end)
	end
	local ok, err = xpcall(serve, function(e)
		if getmetatable(e) == failure or e == socket_error then
			return e
		end
		return debug.traceback(e)
	end, ws, options)
	local was_closed = is_closed(id)
	if not ok and getmetatable(err) == failure then
		-- tell the peer why before hanging up
		pcall(write_frame, ws, "close", string.pack(">I2", err.code) .. err.reason)
		call_handler(ws, "close", err.code, err.reason)
	end
	if not was_closed then
		drop(ws)
	end
	if ok then
		return true
	end
	if err == socket_error then
		if was_closed then
			call_handler(ws, "close")
		else
			call_handler(ws, "error", err)
		end
		return true
	end
	return false, tostring(err)
end

function M.connect(url, header, timeout)
	local protocol, host, uri = url:match("^(wss?)://([^/]+)(.*)$")
	if protocol ~= "ws" and protocol ~= "wss" then
		error(string.format("invalid protocol: %s", tostring(protocol)))
	end
	local address, port = host:match("^%[([%x:%.]+)%]:?(%d*)$")
	if not address then
		address, port = host:match("^([^:]+):?(%d*)$")
	end
	assert(address, "invalid websocket host")
	port = tonumber(port) or (protocol == "ws" and 80 or 443)
	if uri == "" then
		uri = "/"
	end
	local id = sockethelper.connect(address, port, timeout)
	local ok, ws = pcall(new_ws, id, protocol, "client", address)
	if not ok then
		socket.close(id)
		error(ws)
	end
	ws.addr = host
	local ok2, err = pcall(client_handshake, ws, host, uri, header)
	if not ok2 then
		drop(ws)
		error(err)
	end
	return id
end

function M.read(id)
	local ws = assert(pool[id])
	local parts, size
	while true do
		local fin, op, payload = read_frame(ws)
		if op == "close" then
			drop(ws)
			return false, payload
		elseif op == "ping" then
			write_frame(ws, "pong", payload)
		elseif op ~= "pong" then
			if fin and not parts then
				return payload
			end
			parts = parts or {}
			size = (size or 0) + #payload
			if size > M.MAX_MESSAGE then
				count "too_large"
				error("message too large")
			end
			parts[#parts + 1] = payload
			if fin then
				return table.concat(parts)
			end
		end
	end
end

function M.write(id, data, fmt, masking_key)
	local ws = assert(pool[id])
	fmt = fmt or "text"
	assert(fmt == "text" or fmt == "binary")
	write_frame(ws, fmt, data, masking_key)
end

function M.ping(id)
	write_frame(assert(pool[id]), "ping")
end

function M.addrinfo(id)
	return assert(pool[id]).addr
end

function M.real_ip(id)
	return assert(pool[id]).real_ip
end

function M.close(id, code, reason)
	local ws = pool[id]
	if not ws then
		return
	end
	local ok, err = pcall(function()
		local payload
		if code then
			payload = string.pack(">I2", code) .. (reason or "")
		end
		write_frame(ws, "close", payload)
	end)
	drop(ws)
	if not ok then
		skynet.error(tostring(err))
	end
end

M.is_close = is_closed

return M
