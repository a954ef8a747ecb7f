-- skynet.db.mysql for skyhold: a MySQL/MariaDB client over
-- skynet.socketchannel, with skynet's API and result shapes:
--   mysql.connect{host, port, database, user, password, charset,
--                 max_packet_size, compact_arrays, on_connect, overload}
--   db:query(sql)                 rows | ok-result | {badresult = true, ...}
--                                 (several result sets: multiresultset)
--   db:prepare(sql), db:execute(stmt, ...), db:stmt_reset(stmt),
--   db:stmt_close(stmt), db:ping(), db:server_ver(), db:disconnect(),
--   db:set_compact_arrays(on), mysql.quote_sql_str(s)
-- The handshake answers mysql_native_password (the only method skynet's
-- client speaks), also when the server asks for it by an auth switch.
-- Protocol: https://mariadb.com/kb/en/clientserver-protocol/
local socketchannel = require "skynet.socketchannel"
local crypt = require "skynet.crypt"

local sbyte, schar, ssub, srep, sformat, sgsub = string.byte, string.char, string.sub, string.rep, string.format, string.gsub
local spack, sunpack = string.pack, string.unpack
local tonumber, tointeger, type, error, setmetatable = tonumber, math.tointeger, type, error, setmetatable
local sha1 = crypt.sha1

local mysql = { _VERSION = "0.14" }
local meta = { __index = mysql }

-- Default collation ids by character set name.
local CHARSETS = {
	_default = 0, big5 = 1, dec8 = 3, cp850 = 4, hp8 = 6, koi8r = 7, latin1 = 8,
	latin2 = 9, swe7 = 10, ascii = 11, ujis = 12, sjis = 13, hebrew = 16,
	tis620 = 18, euckr = 19, koi8u = 22, gb2312 = 24, greek = 25, cp1250 = 26,
	gbk = 28, latin5 = 30, armscii8 = 32, utf8 = 33, ucs2 = 35, cp866 = 36,
	keybcs2 = 37, macce = 38, macroman = 39, cp852 = 40, latin7 = 41,
	utf8mb4 = 45, cp1251 = 51, utf16 = 54, utf16le = 56, cp1256 = 57,
	cp1257 = 59, utf32 = 60, binary = 63, geostd8 = 92, cp932 = 95,
	eucjpms = 97, gb18030 = 248,
}

local COM_QUERY, COM_PING = 0x03, 0x0e
local COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_RESET = 0x16, 0x17, 0x19, 0x1a
local MORE_RESULTS = 8 -- SERVER_MORE_RESULTS_EXISTS
local CLIENT_FLAGS = 260047
local UNSIGNED_FLAG = 0x20

-- Bytes --------------------------------------------------------------------

-- A length-encoded integer at pos: value (nil for NULL), next pos.
local function lenenc_int(data, pos)
	local first = sbyte(data, pos)
	if first == nil then
		return nil, pos
	elseif first <= 250 then
		return first, pos + 1
	elseif first == 251 then
		return nil, pos + 1
	elseif first == 252 then
		return sunpack("<I2", data, pos + 1)
	elseif first == 253 then
		return sunpack("<I3", data, pos + 1)
	elseif first == 254 then
		return sunpack("<I8", data, pos + 1)
	end
	return false, pos + 1
end

local function lenenc_str(data, pos)
	local len
	len, pos = lenenc_int(data, pos)
	if len == nil then
		return nil, pos
	end
	return ssub(data, pos, pos + len - 1), pos + len
end

local function lenenc_prefix(n)
	if n < 251 then
		return schar(n)
	elseif n < 1 << 16 then
		return spack("<BI2", 0xfc, n)
	elseif n < 1 << 24 then
		return spack("<BI3", 0xfd, n)
	end
	return spack("<BI8", 0xfe, n)
end

-- mysql_native_password: SHA1(pw) xor SHA1(scramble .. SHA1(SHA1(pw))).
local function native_token(password, scramble)
	if password == "" then
		return ""
	end
	local h1 = sha1(password)
	local h3 = sha1(scramble .. sha1(h1))
	local out = {}
	for i = 1, #h3 do
		out[i] = schar(sbyte(h3, i) ~ sbyte(h1, i))
	end
	return table.concat(out)
end

-- Packets ------------------------------------------------------------------

-- A command packet: the sequence restarts at 0.
local function command_packet(self, body)
	self.packet_no = 0
	return spack("<I3B", #body, 0) .. body
end

-- The next packet of a conversation (the handshake).
local function next_packet(self, body)
	self.packet_no = self.packet_no + 1
	return spack("<I3B", #body, self.packet_no & 0xff) .. body
end

-- Reads one packet: its body and kind (OK, ERR, EOF or DATA), or nil and
-- why. A packet larger than max_packet_size is an error (the connection is
-- then dropped): the read stays bounded.
local function read_packet(self, so)
	local head = so:read(4)
	if not head then
		return nil, nil, "failed to receive packet header: "
	end
	local len, seq = sunpack("<I3B", head)
	if len == 0 then
		return nil, nil, "empty packet"
	end
	if len > self._max_packet_size then
		error(sformat("mysql: packet of %d bytes passes max_packet_size %d", len, self._max_packet_size), 0)
	end
	self.packet_no = seq
	local body = so:read(len)
	if not body then
		return nil, nil, "failed to read packet content: "
	end
	local first = sbyte(body, 1)
	local kind = "DATA"
	if first == 0x00 then
		kind = "OK"
	elseif first == 0xff then
		kind = "ERR"
	elseif first == 0xfe then
		kind = "EOF"
	end
	return body, kind
end

local function parse_ok(body)
	local res, pos = {}, 2
	res.affected_rows, pos = lenenc_int(body, pos)
	res.insert_id, pos = lenenc_int(body, pos)
	res.server_status, pos = sunpack("<I2", body, pos)
	res.warning_count, pos = sunpack("<I2", body, pos)
	local message = ssub(body, pos)
	if message ~= "" then
		res.message = message
	end
	return res
end

-- errno, message, sqlstate
local function parse_err(body)
	local errno, pos = sunpack("<I2", body, 2)
	local sqlstate
	if ssub(body, pos, pos) == "#" then
		sqlstate = ssub(body, pos + 1, pos + 5)
		pos = pos + 6
	end
	return errno, ssub(body, pos), sqlstate
end

-- warning_count, status flags
local function parse_eof(body)
	return sunpack("<I2I2", body, 2)
end

-- A column definition: name, type, is_signed.
local function parse_column(body)
	local pos = 1
	for _ = 1, 4 do -- catalog, schema, table, org_table
		local _
		_, pos = lenenc_str(body, pos)
	end
	local col = {}
	col.name, pos = lenenc_str(body, pos)
	local _
	_, pos = lenenc_str(body, pos) -- org_name
	pos = pos + 1 -- length of the fixed fields
	-- charset (2), column length (4)
	pos = pos + 6
	col.type = sbyte(body, pos)
	local flags = sunpack("<I2", body, pos + 1)
	if flags & UNSIGNED_FLAG == 0 then
		col.is_signed = true
	end
	return col
end

-- A column definition packet, or nil and the error.
local function read_column(self, so)
	local body, kind, err = read_packet(self, so)
	if not body then
		return nil, err
	end
	if kind == "ERR" then
		local errno, msg, sqlstate = parse_err(body)
		return nil, msg, errno, sqlstate
	end
	if kind ~= "DATA" then
		return nil, "bad field packet type: " .. kind
	end
	return parse_column(body)
end

-- Text rows ------------------------------------------------------------------

local text_numbers = {
	[0x01] = true, [0x02] = true, [0x03] = true, [0x04] = true, [0x05] = true,
	[0x08] = true, [0x09] = true, [0x0d] = true, [0xf6] = true,
}

local function parse_text_row(body, cols, compact)
	local row, pos = {}, 1
	for i = 1, #cols do
		local col = cols[i]
		local v
		v, pos = lenenc_str(body, pos)
		if v ~= nil and text_numbers[col.type] then
			v = tonumber(v)
		end
		if compact then
			row[i] = v
		else
			row[col.name] = v
		end
	end
	return row
end

-- One result of a text query: rows or an ok-result, and "again" if another
-- result follows; nil, err, errno, sqlstate on error.
local function read_text_result(self, so)
	local body, kind, err = read_packet(self, so)
	if not body then
		return nil, err
	end
	if kind == "ERR" then
		local errno, msg, sqlstate = parse_err(body)
		return nil, msg, errno, sqlstate
	end
	if kind == "OK" then
		local res = parse_ok(body)
		if res.server_status & MORE_RESULTS ~= 0 then
			return res, "again"
		end
		return res
	end
	if kind ~= "DATA" then
		return nil, "packet type " .. kind .. " not supported"
	end
	local ncols = lenenc_int(body, 1)
	local cols = {}
	for i = 1, ncols do
		local col, cerr, errno, sqlstate = read_column(self, so)
		if not col then
			return nil, cerr, errno, sqlstate
		end
		cols[i] = col
	end
	body, kind, err = read_packet(self, so)
	if not body then
		return nil, err
	end
	if kind ~= "EOF" then
		return nil, "unexpected packet type " .. kind .. " while eof packet is expected"
	end
	local compact, rows = self.compact, {}
	while true do
		body, kind, err = read_packet(self, so)
		if not body then
			return nil, err
		end
		if kind == "EOF" then
			local _, status = parse_eof(body)
			if status & MORE_RESULTS ~= 0 then
				return rows, "again"
			end
			return rows
		end
		rows[#rows + 1] = parse_text_row(body, cols, compact)
	end
end

-- Reads a whole reply with `read_one`: one result, or all of them in a list
-- flagged `multi_key`; an error as {badresult = true, err, errno, sqlstate}.
local function reply_reader(self, read_one, multi_key)
	return function(so)
		local res, err, errno, sqlstate = read_one(self, so)
		if not res then
			return true, { badresult = true, err = err, errno = errno, sqlstate = sqlstate }
		end
		if err ~= "again" then
			return true, res
		end
		local all = { res, [multi_key] = true }
		while err == "again" do
			res, err, errno, sqlstate = read_one(self, so)
			if not res then
				all.badresult, all.err, all.errno, all.sqlstate = true, err, errno, sqlstate
				return true, all
			end
			all[#all + 1] = res
		end
		return true, all
	end
end

-- Handshake --------------------------------------------------------------------

-- Reads a handshake reply: the packet, or raises the server's error.
local function handshake_reader(self)
	return function(so)
		local body, kind, err = read_packet(self, so)
		if not body then
			return false, "failed to receive the result packet" .. err
		end
		if kind == "ERR" then
			local errno, msg, sqlstate = parse_err(body)
			return false, sformat("errno:%d, msg:%s,sqlstate:%s", errno, msg, sqlstate)
		end
		if kind == "EOF" then
			if #body == 1 then
				return false, "old pre-4.1 authentication protocol not supported"
			end
			return true, body -- an auth switch request
		end
		return true, body
	end
end

local function login(self, user, password, charset, database, on_connect)
	return function(ch)
		local reader = handshake_reader(self)
		local greeting = ch:response(reader)
		self.protocol_ver = sbyte(greeting)
		local version, pos = sunpack("z", greeting, 2)
		self._server_ver = version
		local scramble1
		pos = pos + 4 -- connection id
		scramble1 = ssub(greeting, pos, pos + 7)
		pos = pos + 9 -- and a filler byte
		local caps_low
		caps_low, pos = sunpack("<I2", greeting, pos)
		self._server_lang = sbyte(greeting, pos)
		self._server_status, pos = sunpack("<I2", greeting, pos + 1)
		local caps_high
		caps_high, pos = sunpack("<I2", greeting, pos)
		self._server_capabilities = caps_low | caps_high << 16
		pos = pos + 1 + 10 -- auth data length, reserved
		local scramble = scramble1 .. ssub(greeting, pos, pos + 11)
		local auth = spack("<I4I4c1c23zs1z", CLIENT_FLAGS, self._max_packet_size, schar(charset),
			srep("\0", 23), user, native_token(password, scramble), database)
		local reply = ch:request(next_packet(self, auth), reader)
		if sbyte(reply) == 0xfe then
			-- auth switch: plugin name, then its scramble
			local plugin, p = sunpack("z", reply, 2)
			if plugin ~= "mysql_native_password" then
				error("mysql: auth plugin " .. plugin .. " not supported")
			end
			local seed = ssub(reply, p, p + 19)
			ch:request(next_packet(self, native_token(password, seed)), reader)
		end
		if on_connect then
			on_connect(self)
		end
	end
end

-- The client ---------------------------------------------------------------------

--- Connects (a first attempt only: raises if it fails); the channel
--- reconnects on later use.
function mysql.connect(opts)
	local self = setmetatable({}, meta)
	self._max_packet_size = opts.max_packet_size or 1024 * 1024
	self.compact = opts.compact_arrays
	self.packet_no = 0
	local charset = CHARSETS[opts.charset or "_default"]
	local ch = socketchannel.channel {
		host = opts.host,
		port = opts.port or 3306,
		auth = login(self, opts.user or "", opts.password or "", charset, opts.database or "", opts.on_connect),
		overload = opts.overload,
	}
	self.sockchannel = ch
	ch:connect(true)
	return self
end

--- Closes the connection; the object is unusable afterwards.
function mysql.disconnect(self)
	self.sockchannel:close()
	setmetatable(self, nil)
end

--- Runs `sql` (several statements give a multiresultset).
function mysql.query(self, sql)
	self.query_resp = self.query_resp or reply_reader(self, read_text_result, "multiresultset")
	return self.sockchannel:request(command_packet(self, schar(COM_QUERY) .. sql), self.query_resp)
end

--- COM_PING: an ok-result.
function mysql.ping(self)
	self.query_resp = self.query_resp or reply_reader(self, read_text_result, "multiresultset")
	return self.sockchannel:request(command_packet(self, schar(COM_PING)), self.query_resp)
end

--- The server's version string from the handshake.
function mysql.server_ver(self)
	return self._server_ver
end

--- Rows as lists (true) or keyed by column name (false).
function mysql.set_compact_arrays(self, on)
	self.compact = on
end

local escapes = {
	["\0"] = "\\0", ["\b"] = "\\b", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
	["\26"] = "\\Z", ["\\"] = "\\\\", ["'"] = "\\'", ['"'] = '\\"',
}

--- `s` as a quoted SQL string literal.
function mysql.quote_sql_str(s)
	return sformat("'%s'", (sgsub(s, "[\0\b\n\r\t\26\\'\"]", escapes)))
end

-- Prepared statements ------------------------------------------------------------

local function read_prepare(self, so)
	local body, kind, err = read_packet(self, so)
	if not body then
		return false, { badresult = true, errno = 300101, err = err }
	end
	if kind == "ERR" then
		local errno, msg, sqlstate = parse_err(body)
		return true, { badresult = true, errno = errno, err = msg, sqlstate = sqlstate }
	end
	if kind ~= "OK" then
		return false, { badresult = true, errno = 300201, err = "first typ must be OK,now" .. kind }
	end
	local stmt = { params = {}, fields = {} }
	stmt.prepare_id, stmt.field_count, stmt.param_count, stmt.warning_count = sunpack("<I4I2I2xI2", body, 2)
	for _, part in ipairs { { stmt.param_count, stmt.params }, { stmt.field_count, stmt.fields } } do
		if part[1] > 0 then
			-- column definitions until the EOF that ends them
			local col = read_column(self, so)
			while col do
				part[2][#part[2] + 1] = col
				col = read_column(self, so)
			end
		end
	end
	return true, stmt
end

--- Prepares `sql`: {prepare_id, param_count, field_count, params, fields},
--- or {badresult = true, ...}.
function mysql.prepare(self, sql)
	self.prepare_resp = self.prepare_resp or function(so)
		return read_prepare(self, so)
	end
	return self.sockchannel:request(command_packet(self, schar(COM_STMT_PREPARE) .. sql), self.prepare_resp)
end

-- Parameter type and value by Lua type.
local param_codec = {
	number = function(v)
		if tointeger(v) then
			return spack("<I2", 0x08), spack("<i8", v)
		end
		return spack("<I2", 0x05), spack("<d", v)
	end,
	string = function(v)
		return spack("<I2", 0x0f), lenenc_prefix(#v) .. v
	end,
	boolean = function(v)
		return spack("<I2", 0x01), schar(v and 1 or 0)
	end,
	["nil"] = function()
		return spack("<I2", 0x06), ""
	end,
}

local function execute_packet(self, stmt, args)
	local n = args.n
	if n ~= stmt.param_count then
		error("require stmt.param_count " .. stmt.param_count .. " get arg_num " .. n)
	end
	local parts = { schar(COM_STMT_EXECUTE), spack("<I4BI4", stmt.prepare_id, 0, 1) }
	if n > 0 then
		local nulls = {}
		for byte = 0, (n + 7) // 8 - 1 do
			local bits = 0
			for bit = 0, 7 do
				local i = byte * 8 + bit + 1
				if i <= n and args[i] == nil then
					bits = bits | (1 << bit)
				end
			end
			nulls[#nulls + 1] = schar(bits)
		end
		local types, values = {}, {}
		for i = 1, n do
			local v = args[i]
			local codec = param_codec[type(v)]
			if not codec then
				error("invalid parameter type " .. type(v))
			end
			types[i], values[i] = codec(v)
		end
		parts[#parts + 1] = table.concat(nulls) .. "\1" .. table.concat(types) .. table.concat(values)
	end
	return command_packet(self, table.concat(parts))
end

-- Binary rows -------------------------------------------------------------------

local function int_reader(width)
	local unsigned, signed = "<I" .. width, "<i" .. width
	return function(data, pos, is_signed)
		return sunpack(is_signed and signed or unsigned, data, pos)
	end
end

local function read_datetime(data, pos)
	local len
	len, pos = lenenc_int(data, pos)
	if len == 7 then
		local y, mo, d, h, mi, s, p = sunpack("<I2BBBBB", data, pos)
		return sformat("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s), p
	elseif len == 4 then
		local y, mo, d, p = sunpack("<I2BB", data, pos)
		return sformat("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, 0, 0, 0), p
	end
	-- other lengths are not decoded (as skynet's client: a fixed stand-in)
	return "2017-09-09 20:08:09", pos + len
end

local function read_date(data, pos)
	local len
	len, pos = lenenc_int(data, pos)
	if len ~= 4 then
		error("_get_date()error,unsupported date format, len is " .. len)
	end
	local y, mo, d, p = sunpack("<I2BB", data, pos)
	return sformat("%04d-%02d-%02d", y, mo, d), p
end

local function read_float(fmt)
	return function(data, pos)
		return sunpack(fmt, data, pos)
	end
end

local binary_readers = {
	[0x01] = int_reader(1), [0x02] = int_reader(2), [0x03] = int_reader(4),
	[0x04] = read_float "<f", [0x05] = read_float "<d", [0x07] = read_datetime,
	[0x08] = int_reader(8), [0x09] = int_reader(3), [0x0a] = read_date,
	[0x0c] = read_datetime,
}
for _, t in ipairs { 0x0f, 0x10, 0xf5, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe } do
	binary_readers[t] = lenenc_str
end

local function parse_binary_row(body, cols, compact)
	local ncols = #cols
	local bitmap_len = (ncols + 9) // 8
	local pos = 2 + bitmap_len
	local row = {}
	for i = 1, ncols do
		local bit = i + 1 -- two reserved bits
		local null = sbyte(body, 2 + bit // 8) & (1 << (bit % 8)) ~= 0
		if not null then
			local col = cols[i]
			local reader = binary_readers[col.type]
			if not reader then
				error("_parse_row_data_binary()error,unsupported field type " .. col.type)
			end
			local v
			v, pos = reader(body, pos, col.is_signed)
			if compact then
				row[i] = v
			else
				row[col.name] = v
			end
		end
	end
	return row
end

local function read_binary_result(self, so)
	local body, kind, err = read_packet(self, so)
	if not body then
		return nil, err
	end
	if kind == "ERR" then
		local errno, msg, sqlstate = parse_err(body)
		return nil, msg, errno, sqlstate
	end
	if kind == "OK" then
		local res = parse_ok(body)
		if res.server_status & MORE_RESULTS ~= 0 then
			return res, "again"
		end
		return res
	end
	if kind ~= "DATA" then
		return nil, "packet type " .. kind .. " not supported"
	end
	local cols = {}
	while true do
		body, kind = read_packet(self, so)
		if kind == "EOF" or not body then
			break
		end
		cols[#cols + 1] = parse_column(body)
	end
	if #cols == 0 then
		return {}
	end
	local compact, rows = self.compact, {}
	while true do
		body, kind, err = read_packet(self, so)
		if not body then
			return nil, err
		end
		if kind == "EOF" then
			local _, status = parse_eof(body)
			if status & MORE_RESULTS ~= 0 then
				return rows, "again"
			end
			return rows
		end
		rows[#rows + 1] = parse_binary_row(body, cols, compact)
	end
end

--- Executes a prepared statement with `...` as its parameters (several
--- results come flagged `mulitresultset`, skynet's spelling).
function mysql.execute(self, stmt, ...)
	local packet = execute_packet(self, stmt, table.pack(...))
	self.execute_resp = self.execute_resp or reply_reader(self, read_binary_result, "mulitresultset")
	return self.sockchannel:request(packet, self.execute_resp)
end

--- COM_STMT_RESET.
function mysql.stmt_reset(self, stmt)
	self.query_resp = self.query_resp or reply_reader(self, read_text_result, "multiresultset")
	local packet = command_packet(self, schar(COM_STMT_RESET) .. spack("<I4", stmt.prepare_id))
	return self.sockchannel:request(packet, self.query_resp)
end

--- COM_STMT_CLOSE (the server sends no reply).
function mysql.stmt_close(self, stmt)
	local packet = command_packet(self, schar(COM_STMT_CLOSE) .. spack("<I4", stmt.prepare_id))
	return self.sockchannel:request(packet)
end

return mysql
