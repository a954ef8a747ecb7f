-- http.httpc for skyhold: skynet's HTTP(S) client.
--
--   httpc.request(method, host, url [, recvheader [, header [, content]]])
--     -> status, body          (raises on a failed connection or response)
--   httpc.get(host, url [, recvheader [, header [, content]]])
--   httpc.post(host, url, form [, recvheader])   (form: a table, sent
--                                                 url-encoded)
--   httpc.head(host, url [, recvheader [, header [, content]]]) -> status
--   httpc.request_stream(...)  -> a stream: call it for the next piece of
--                                 the body; stream.status, stream.header
--   httpc.dns([server [, port]])   resolve host names with skynet.dns
--   httpc.timeout                  centiseconds for one whole request
--                                  (nil: none)
-- `host` is "[http://|https://]name-or-address[:port]". Responses are
-- bounded by http.internal's limits (headers, httpc_body_limit).
local skynet = require "skynet"
local socket = require "http.sockethelper"
local internal = require "http.internal"

local string, table = string, table
local pairs, pcall, error, tonumber = pairs, pcall, error, tonumber

local httpc = {}

local use_dns = false

function httpc.dns(server, port)
	use_dns = true
	require("skynet.dns").server(server, port)
end

local DEFAULT_PORT = { http = 80, https = 443 }

local function is_ipv4(h)
	return h:find("^%d+%.%d+%.%d+%.%d+$") ~= nil
end

-- "name", "name:port", "1.2.3.4:port", "[::1]:port" -> host, port, kind
local function split_host(h)
	if h:sub(1, 1) == "[" then
		local addr, port = h:match("^%[([%x:%.]+)%]:?(%d*)$")
		if not addr then
			error("Invalid host: " .. h)
		end
		return addr, tonumber(port), "ipv6"
	end
	if select(2, h:gsub(":", "")) > 1 then
		error(string.format("Invalid host: bare IPv6 address '%s', use '[%s]' instead", h, h))
	end
	local name, port = h:match("^(.-):(%d+)$")
	if not name then
		name = h
	end
	return name, tonumber(port), is_ipv4(name) and "ipv4" or "hostname"
end

local function parse_host(host)
	local protocol, rest = host:match("^(%a+)://(.*)$")
	if protocol then
		protocol = protocol:lower()
	else
		protocol, rest = "http", host
	end
	local name, port, kind = split_host(rest)
	port = port or DEFAULT_PORT[protocol]
	if not port then
		error("Invalid protocol: " .. protocol)
	end
	return protocol, name, port, kind, rest
end

local SSLCTX_CLIENT
local function interface_of(protocol, fd, name)
	if protocol == "http" then
		return {
			read = socket.readfunc(fd),
			write = socket.writefunc(fd),
			readall = function()
				return socket.readall(fd)
			end,
		}
	elseif protocol == "https" then
		local tls = require "http.tlshelper"
		SSLCTX_CLIENT = SSLCTX_CLIENT or tls.newctx()
		local tls_ctx = tls.newtls("client", SSLCTX_CLIENT, name)
		return {
			init = tls.init_requestfunc(fd, tls_ctx),
			close = tls.closefunc(tls_ctx),
			read = tls.readfunc(fd, tls_ctx),
			write = tls.writefunc(fd, tls_ctx),
			readall = tls.readallfunc(fd, tls_ctx),
		}
	end
	error(string.format("Invalid protocol: %s", protocol))
end

local function connect(host, timeout)
	local protocol, name, port, kind, hostheader = parse_host(host)
	local address = name
	if kind == "hostname" and use_dns then
		local ip, why = require("skynet.dns").resolve(name)
		if not ip then
			error(string.format("%s dns resolve failed msg:%s", name, why))
		end
		address = ip
	end
	local fd = socket.connect(address, port, timeout)
	-- TLS verifies the server against its name, or its address.
	local interface = interface_of(protocol, fd, name)
	if timeout then
		skynet.timeout(timeout, function()
			if not interface.finish then
				socket.shutdown(fd)
			end
		end)
	end
	if interface.init then
		local ok, err = pcall(interface.init, kind == "hostname" and name or nil)
		if not ok then
			interface.finish = true
			socket.close(fd)
			error(err)
		end
	end
	return fd, interface, hostheader
end

local function finish(interface, fd)
	interface.finish = true
	socket.close(fd)
	if interface.close then
		interface.close()
		interface.close = nil
	end
end

function httpc.request(method, host, url, recvheader, header, content)
	local fd, interface, hostheader = connect(host, httpc.timeout)
	local ok, code, body, h = pcall(internal.request, interface, method, hostheader, url,
		recvheader, header, content)
	if ok then
		ok, body = pcall(internal.response, interface, code, body, h)
	end
	finish(interface, fd)
	if ok then
		return code, body
	end
	error(body or code)
end

function httpc.head(host, url, recvheader, header, content)
	local fd, interface, hostheader = connect(host, httpc.timeout)
	local ok, code = pcall(internal.request, interface, "HEAD", hostheader, url, recvheader,
		header, content)
	finish(interface, fd)
	if ok then
		return code
	end
	error(code)
end

function httpc.request_stream(method, host, url, recvheader, header, content)
	local fd, interface, hostheader = connect(host, httpc.timeout)
	local ok, code, body, h = pcall(internal.request, interface, method, hostheader, url,
		recvheader, header, content)
	-- from here the stream's owner decides when the connection ends
	interface.finish = true
	if not ok then
		finish(interface, fd)
		error(code)
	end
	local ok2, s = pcall(internal.response_stream, interface, code, body, h)
	if not ok2 then
		finish(interface, fd)
		error(s)
	end
	s._onclose = function()
		finish(interface, fd)
	end
	return s
end

function httpc.get(...)
	return httpc.request("GET", ...)
end

local function escape(s)
	return (string.gsub(s, "([^A-Za-z0-9_])", function(c)
		return string.format("%%%02X", string.byte(c))
	end))
end

function httpc.post(host, url, form, recvheader)
	local header = { ["content-type"] = "application/x-www-form-urlencoded" }
	local body = {}
	for k, v in pairs(form) do
		body[#body + 1] = escape(tostring(k)) .. "=" .. escape(tostring(v))
	end
	return httpc.request("POST", host, url, recvheader, header, table.concat(body, "&"))
end

return httpc
