-- http.internal for skyhold: the HTTP/1.1 message parts skynet's httpd,
-- httpc and websocket share (header block, header fields, chunked bodies,
-- a client request and its response), each bounded.
--
-- Limits (config keys, read once per service):
--   http_header_limit  bytes of start line + header fields (default 8192)
--   http_max_headers   header lines (default 100)
--   httpc_body_limit   bytes of a response body httpc accepts
--                      (default 16 MiB)
-- A chunk-size line longer than 128 bytes is refused.
local skynet = require "skynet"

local tonumber, type, pairs, error, assert = tonumber, type, pairs, error, assert
local string, table = string, table

local M = {}

local function config_number(key, default)
	local v = tonumber(skynet.getenv(key))
	if v and v >= 0 then
		return math.tointeger(v) or default
	end
	return default
end

M.HEADER_LIMIT = config_number("http_header_limit", 8192)
M.MAX_HEADERS = config_number("http_max_headers", 100)
M.CLIENT_BODY_LIMIT = config_number("httpc_body_limit", 16 * 1024 * 1024)
M.CHUNK_LINE_LIMIT = 128

-- Reads up to the blank line that ends a header block. `pre` is data
-- already read. Fills `lines` with the block's lines (without CRLF) and
-- returns what follows the blank line, or nil when the block is larger
-- than HEADER_LIMIT or has more than MAX_HEADERS lines.
function M.recvheader(readbytes, lines, pre)
	local buf = pre or ""
	if buf:sub(1, 2) == "\r\n" then
		-- an empty block (the trailer of a chunked body with no fields)
		return buf:sub(3)
	end
	local stop = buf:find("\r\n\r\n", 1, true)
	while not stop do
		if #buf > M.HEADER_LIMIT then
			return nil
		end
		local more = readbytes()
		local from = #buf - 3
		buf = buf .. more
		stop = buf:find("\r\n\r\n", from > 0 and from or 1, true)
		if not stop and buf:sub(1, 2) == "\r\n" then
			return buf:sub(3)
		end
	end
	if stop - 1 > M.HEADER_LIMIT then
		return nil
	end
	local n = #lines
	local limit = M.MAX_HEADERS + 1 + n
	local pos = 1
	while pos <= stop do
		local e = buf:find("\r\n", pos, true)
		n = n + 1
		if n > limit then
			return nil
		end
		lines[n] = buf:sub(pos, e - 1)
		pos = e + 2
	end
	return buf:sub(stop + 4)
end

-- Parses header lines lines[from..] into `header` (names lowercased; a
-- repeated name becomes a list; a line starting with a tab continues the
-- previous one). Nil when a line is not a header field.
function M.parseheader(lines, from, header)
	local last
	for i = from, #lines do
		local line = lines[i]
		local first = line:byte(1)
		if first == 9 or first == 32 then
			-- obsolete line folding
			if not last then
				return nil
			end
			local v = header[last]
			if type(v) == "table" then
				v[#v] = v[#v] .. line:sub(2)
			else
				header[last] = v .. line:sub(2)
			end
		else
			local name, value = line:match("^([^%s:]+):%s*(.-)%s*$")
			if not name then
				return nil
			end
			name = name:lower()
			local old = header[name]
			if old == nil then
				header[name] = value
			elseif type(old) == "table" then
				old[#old + 1] = value
			else
				header[name] = { old, value }
			end
			last = name
		end
	end
	return header
end

-- One chunk-size line: the size and what follows the line, or nil.
local function chunk_size(readbytes, buf)
	while true do
		local e = buf:find("\r\n", 1, true)
		if e then
			local hex = buf:sub(1, e - 1):match("^%s*(%x+)%s*;?.*$")
			if not hex or #hex > 15 then
				return nil
			end
			return tonumber(hex, 16), buf:sub(e + 2)
		end
		if #buf > M.CHUNK_LINE_LIMIT then
			return nil
		end
		buf = buf .. readbytes()
	end
end
M.chunk_size = chunk_size

-- The CRLF after a chunk's data: what follows it, or nil.
local function skip_crlf(readbytes, buf)
	if #buf < 2 then
		buf = buf .. readbytes(2 - #buf)
	end
	if buf:sub(1, 2) ~= "\r\n" then
		return nil
	end
	return buf:sub(3)
end
M.skip_crlf = skip_crlf

-- A chunked body: the data (at most `bodylimit` bytes) and the header with
-- the trailer's fields added, or nil when the body is malformed or too big.
function M.recvchunkedbody(readbytes, bodylimit, header, buf)
	local parts, size = {}, 0
	while true do
		local sz
		sz, buf = chunk_size(readbytes, buf)
		if not sz then
			return nil
		end
		if sz == 0 then
			break
		end
		size = size + sz
		if bodylimit and size > bodylimit then
			return nil
		end
		if #buf >= sz then
			parts[#parts + 1] = buf:sub(1, sz)
			buf = buf:sub(sz + 1)
		else
			parts[#parts + 1] = buf .. readbytes(sz - #buf)
			buf = ""
		end
		buf = skip_crlf(readbytes, buf)
		if not buf then
			return nil
		end
	end
	local trailer = {}
	if not M.recvheader(readbytes, trailer, buf) then
		return nil
	end
	header = M.parseheader(trailer, 1, header)
	if not header then
		return nil
	end
	return table.concat(parts), header
end

-- Writes a request and reads the response's status and header. Returns
-- the status code, the bytes read past the header and the header table.
function M.request(interface, method, host, url, recvheader, header, content)
	local write = interface.write
	local out = { string.format("%s %s HTTP/1.1\r\n", method, url) }
	if header then
		local has_host = false
		for k in pairs(header) do
			if type(k) == "string" and k:lower() == "host" then
				has_host = true
			end
		end
		if not has_host then
			out[#out + 1] = string.format("host:%s\r\n", host)
		end
		for k, v in pairs(header) do
			if type(v) == "table" then
				for _, one in ipairs(v) do
					out[#out + 1] = string.format("%s:%s\r\n", k, one)
				end
			else
				out[#out + 1] = string.format("%s:%s\r\n", k, v)
			end
		end
	else
		out[#out + 1] = string.format("host:%s\r\n", host)
	end
	local chunked = header and header["transfer-encoding"] == "chunked"
	if content then
		if not chunked then
			out[#out + 1] = string.format("content-length:%d\r\n", #content)
		end
	elseif method ~= "GET" and method ~= "HEAD" then
		out[#out + 1] = "content-length:0\r\n"
	end
	out[#out + 1] = "\r\n"
	write(table.concat(out))
	if content and #content > 0 then
		write(content)
	end

	local lines = {}
	local rest = M.recvheader(interface.read, lines, "")
	if not rest then
		error("Recv header failed")
	end
	local code = lines[1] and lines[1]:match("^HTTP/%d+%.?%d*%s+(%d%d%d)")
	code = tonumber(code)
	if not code then
		error("Invalid HTTP response status line")
	end
	local h = M.parseheader(lines, 2, recvheader or {})
	if not h then
		error("Invalid HTTP response header")
	end
	return code, rest, h
end

local function content_length(header)
	local length = header["content-length"]
	if type(length) == "table" then
		return nil, "Invalid content-length"
	end
	if length then
		length = length:match("^%s*(%d+)%s*$")
		length = length and tonumber(length)
		if not length then
			return nil, "Invalid content-length"
		end
	end
	return length
end
M.content_length = content_length

local function transfer_mode(header)
	local mode = header["transfer-encoding"]
	if mode == nil then
		return nil
	end
	if type(mode) ~= "string" then
		error("Unsupport transfer-encoding")
	end
	mode = mode:lower()
	if mode ~= "identity" and mode ~= "chunked" then
		error("Unsupport transfer-encoding")
	end
	return mode
end

-- Reads the rest of a response body (after M.request): the body.
function M.response(interface, code, body, header)
	local limit = M.CLIENT_BODY_LIMIT
	if transfer_mode(header) == "chunked" then
		local b = M.recvchunkedbody(interface.read, limit, header, body)
		if not b then
			error("Invalid response body")
		end
		return b
	end
	local length, why = content_length(header)
	if why then
		error(why)
	end
	if length then
		if length > limit then
			error("Response body too large")
		end
		if #body >= length then
			return body:sub(1, length)
		end
		return body .. interface.read(length - #body)
	end
	if code == 204 or code == 304 or code < 200 then
		return ""
	end
	-- no length: up to the end of the connection, within the limit
	local parts, size = { body }, #body
	while true do
		local ok, more = pcall(interface.read)
		if not ok or more == nil or more == "" then
			break
		end
		size = size + #more
		if size > limit then
			error("Response body too large")
		end
		parts[#parts + 1] = more
	end
	return table.concat(parts)
end

-- A streamed response body: an object whose call (or :padding()) returns
-- the next piece of the body, nil at the end; :close() ends it early.
local stream = {}
stream.__index = stream

function stream:close()
	local f = self._onclose
	if f then
		self._onclose = nil
		f(self)
	end
end

function stream:padding()
	return self._reading(self), self
end

stream.__call = stream.padding
stream.__close = stream.close

local function finished(self)
	self.connected = nil
	self._reading = stream.close
end

local function read_length(length)
	local left = length
	return function(self)
		local data = self._body
		self._body = nil
		if data == nil or data == "" then
			local ok, more = pcall(self._interface.read)
			if not ok or not more or more == "" then
				self.connected = false
				self:close()
				return nil
			end
			data = more
		end
		if #data >= left then
			data = data:sub(1, left)
			finished(self)
			self:close()
			return data
		end
		left = left - #data
		return data
	end
end

local function read_to_end(self)
	local data = self._body
	self._body = nil
	if data and data ~= "" then
		return data
	end
	local ok, more = pcall(self._interface.read)
	if not ok or not more or more == "" then
		finished(self)
		self:close()
		return nil
	end
	return more
end

local function read_chunked(self)
	local read = self._interface.read
	local ok, sz, rest = pcall(chunk_size, read, self._body or "")
	if not ok or not sz then
		self.connected = false
		self:close()
		return nil
	end
	if sz == 0 then
		local trailer = {}
		local ok2, after = pcall(M.recvheader, read, trailer, rest)
		if ok2 and after then
			M.parseheader(trailer, 1, self.header)
		end
		finished(self)
		self:close()
		return ""
	end
	local data
	if #rest >= sz then
		data, rest = rest:sub(1, sz), rest:sub(sz + 1)
	else
		local ok3, more = pcall(read, sz - #rest)
		if not ok3 then
			self.connected = false
			self:close()
			return nil
		end
		data, rest = rest .. more, ""
	end
	local ok4, after = pcall(skip_crlf, read, rest)
	if not ok4 or not after then
		self.connected = false
		self:close()
		return nil
	end
	self._body = after
	return data
end

function M.response_stream(interface, code, body, header)
	local reading
	if transfer_mode(header) == "chunked" then
		reading = read_chunked
	else
		local length, why = content_length(header)
		if why then
			error(why)
		end
		if length then
			reading = read_length(length)
		elseif code == 204 or code == 304 or code < 200 then
			reading = function(self)
				finished(self)
				self:close()
				return ""
			end
		else
			reading = read_to_end
		end
	end
	return setmetatable({
		status = code,
		header = header,
		connected = true,
		_body = body,
		_interface = interface,
		_reading = reading,
	}, stream)
end

return M
