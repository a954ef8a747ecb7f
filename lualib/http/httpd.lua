-- http.httpd for skyhold: skynet's HTTP server half.
--
--   httpd.read_request(readfunc [, bodylimit])
--     -> 200, url, method, header, body   (a request)
--     -> code                              (refused: 400, 413, 505, 501...)
--     -> nil, err                          (the connection failed or the
--                                           request timed out)
--   httpd.write_response(writefunc, code [, body [, header]])
--     -> true, or false, err               (body: a string, or a function
--                                           returning pieces then nil,
--                                           written chunked)
--
-- Limits (config keys, read once per service), on top of http.internal's
-- header limits:
--   http_body_limit  body bytes when read_request is given no bodylimit
--                    (default 1 MiB; skynet's nil meant unlimited)
--   http_timeout     centiseconds to read one whole request when the read
--                    function comes from http.sockethelper (default 3000;
--                    0: no deadline). On expiry the connection is shut
--                    down and read_request returns nil, "timeout".
-- httpd.counters counts requests read and refused, by reason.
local skynet = require "skynet"
local internal = require "http.internal"
local sockethelper = require "http.sockethelper"

local string, table = string, table
local type, pairs, ipairs, pcall, tonumber, error = type, pairs, ipairs, pcall, tonumber, error

local httpd = {}

local function config_number(key, default)
	local v = math.tointeger(tonumber(skynet.getenv(key)))
	if v and v >= 0 then
		return v
	end
	return default
end

httpd.BODY_LIMIT = config_number("http_body_limit", 1024 * 1024)
httpd.TIMEOUT = config_number("http_timeout", 3000)

httpd.counters = {
	requests = 0, -- requests read whole
	header_too_large = 0,
	body_too_large = 0,
	bad_request = 0,
	unsupported = 0,
	timeout = 0,
	socket_error = 0,
}

local function count(what)
	httpd.counters[what] = httpd.counters[what] + 1
end

local STATUS = {
	[100] = "Continue", [101] = "Switching Protocols",
	[200] = "OK", [201] = "Created", [202] = "Accepted",
	[203] = "Non-Authoritative Information", [204] = "No Content",
	[205] = "Reset Content", [206] = "Partial Content",
	[300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
	[303] = "See Other", [304] = "Not Modified", [305] = "Use Proxy",
	[307] = "Temporary Redirect",
	[400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
	[403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
	[406] = "Not Acceptable", [407] = "Proxy Authentication Required",
	[408] = "Request Time-out", [409] = "Conflict", [410] = "Gone",
	[411] = "Length Required", [412] = "Precondition Failed",
	[413] = "Request Entity Too Large", [414] = "Request-URI Too Large",
	[415] = "Unsupported Media Type", [416] = "Requested range not satisfiable",
	[417] = "Expectation Failed", [426] = "Upgrade Required",
	[500] = "Internal Server Error", [501] = "Not Implemented",
	[502] = "Bad Gateway", [503] = "Service Unavailable",
	[504] = "Gateway Time-out", [505] = "HTTP Version not supported",
}

local function read_request(readbytes, bodylimit)
	local lines = {}
	local rest = internal.recvheader(readbytes, lines, "")
	if not rest then
		count "header_too_large"
		return 413
	end
	local method, url, version = (lines[1] or ""):match("^(%a+)%s+(%S+)%s+HTTP/(%d+%.%d+)$")
	if not method then
		count "bad_request"
		return 400
	end
	version = tonumber(version)
	if version < 1.0 or version > 1.1 then
		count "unsupported"
		return 505
	end
	local header = internal.parseheader(lines, 2, {})
	if not header then
		count "bad_request"
		return 400
	end
	local mode = header["transfer-encoding"]
	if mode ~= nil then
		mode = type(mode) == "string" and mode:lower()
		if mode ~= "identity" and mode ~= "chunked" then
			count "unsupported"
			return 501
		end
	end
	local body
	if mode == "chunked" then
		body, header = internal.recvchunkedbody(readbytes, bodylimit, header, rest)
		if not body then
			count "body_too_large"
			return 413
		end
	else
		local length, why = internal.content_length(header)
		if why then
			count "bad_request"
			return 400
		end
		if length then
			if length > bodylimit then
				count "body_too_large"
				return 413
			end
			if #rest >= length then
				body = rest:sub(1, length)
			else
				body = rest .. readbytes(length - #rest)
			end
		else
			body = ""
		end
	end
	count "requests"
	return 200, url, method, header, body
end

function httpd.read_request(readbytes, bodylimit)
	bodylimit = bodylimit or httpd.BODY_LIMIT
	local fd = sockethelper.fd_of(readbytes)
	local state = { done = false }
	if fd and httpd.TIMEOUT > 0 then
		skynet.timeout(httpd.TIMEOUT, function()
			if not state.done then
				state.expired = true
				sockethelper.shutdown(fd)
			end
		end)
	end
	local ok, code, url, method, header, body = pcall(read_request, readbytes, bodylimit)
	state.done = true
	if ok then
		return code, url, method, header, body
	end
	if state.expired then
		count "timeout"
		return nil, "timeout"
	end
	if code == sockethelper.socket_error then
		count "socket_error"
	else
		count "bad_request"
	end
	return nil, code
end

local function write_header(out, k, v)
	k, v = tostring(k), tostring(v)
	if k:find("[\r\n:]") or v:find("[\r\n]") then
		error("Invalid header field " .. k)
	end
	out[#out + 1] = string.format("%s: %s\r\n", k, v)
end

local function write_response(writefunc, code, body, header)
	code = math.tointeger(code)
	if not code or code < 100 or code > 999 then
		error("Invalid status code")
	end
	local out = { string.format("HTTP/1.1 %03d %s\r\n", code, STATUS[code] or "") }
	if header then
		for k, v in pairs(header) do
			if type(v) == "table" then
				for _, one in ipairs(v) do
					write_header(out, k, one)
				end
			else
				write_header(out, k, v)
			end
		end
	end
	local t = type(body)
	if t == "string" then
		out[#out + 1] = string.format("content-length: %d\r\n\r\n", #body)
		out[#out + 1] = body
		writefunc(table.concat(out))
	elseif t == "function" then
		out[#out + 1] = "transfer-encoding: chunked\r\n\r\n"
		writefunc(table.concat(out))
		while true do
			local piece = body()
			if piece == nil then
				break
			end
			if piece ~= "" then
				writefunc(string.format("%x\r\n%s\r\n", #piece, piece))
			end
		end
		writefunc("0\r\n\r\n")
	elseif t == "nil" then
		if code >= 200 and code ~= 204 and code ~= 304 then
			out[#out + 1] = "content-length: 0\r\n"
		end
		out[#out + 1] = "\r\n"
		writefunc(table.concat(out))
	else
		error("Invalid body type " .. t)
	end
end

function httpd.write_response(...)
	return pcall(write_response, ...)
end

return httpd
