-- http.tlshelper for skyhold: TLS over a skynet.socket connection with the
-- `ltls.c` module (rustls inside), as skynet's httpc, httpd and websocket
-- use it. The TLS engine works on buffers: handshake(data) and read(data)
-- take bytes that came from the peer, write(data) returns bytes to send.
--
--   tlshelper.newctx()                    a context (ctx:set_cert(cert,
--                                         key) for a server: paths the
--                                         config names)
--   tlshelper.newtls("server"|"client", ctx [, hostname])
--   tlshelper.init_requestfunc(fd, tls)   client handshake
--   tlshelper.init_responsefunc(fd, tls)  server handshake
--   tlshelper.readfunc / writefunc / readallfunc / closefunc
local socket = require "http.sockethelper"
local c = require "ltls.c"

local tlshelper = {}

function tlshelper.init_requestfunc(fd, tls_ctx)
	local read = socket.readfunc(fd)
	local write = socket.writefunc(fd)
	return function(hostname)
		if hostname then
			tls_ctx:set_ext_host_name(hostname)
		end
		write(tls_ctx:handshake())
		while not tls_ctx:finished() do
			local out = tls_ctx:handshake(read())
			if out then
				write(out)
			end
		end
	end
end

function tlshelper.init_responsefunc(fd, tls_ctx)
	local read = socket.readfunc(fd)
	local write = socket.writefunc(fd)
	return function()
		while not tls_ctx:finished() do
			local out = tls_ctx:handshake(read())
			if out then
				write(out)
			end
		end
		-- what the server has to say once the handshake is done
		local out = tls_ctx:write()
		if out ~= "" then
			write(out)
		end
	end
end

function tlshelper.closefunc(tls_ctx)
	return function()
		tls_ctx:close()
	end
end

-- read(sz): exactly sz plaintext bytes; read(): what is available (at
-- least one byte, unless the connection is gone).
function tlshelper.readfunc(fd, tls_ctx)
	local read = socket.readfunc(fd)
	local buffered = ""
	-- The first read also returns plaintext that came with the handshake.
	local primed = false
	local function more()
		if not primed then
			primed = true
			local s = tls_ctx:read("")
			if s ~= "" then
				return s
			end
		end
		return tls_ctx:read(read())
	end
	return function(sz)
		if sz == nil then
			while buffered == "" do
				buffered = more()
			end
			local out = buffered
			buffered = ""
			return out
		end
		local parts, n = { buffered }, #buffered
		while n < sz do
			local s = more()
			parts[#parts + 1] = s
			n = n + #s
		end
		local all = table.concat(parts)
		buffered = all:sub(sz + 1)
		return all:sub(1, sz)
	end
end

function tlshelper.writefunc(fd, tls_ctx)
	local write = socket.writefunc(fd)
	return function(s)
		return write(tls_ctx:write(s))
	end
end

function tlshelper.readallfunc(fd, tls_ctx)
	return function()
		return tls_ctx:read(socket.readall(fd))
	end
end

function tlshelper.newctx()
	return c.newctx()
end

function tlshelper.newtls(method, ssl_ctx, hostname)
	return c.newtls(method, ssl_ctx, hostname)
end

return tlshelper
