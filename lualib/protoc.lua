-- protoc: .proto text to protobuf descriptors at run time, loaded into `pb`.
-- skyhold's own implementation of the API of lua-protobuf's protoc.lua:
--
--   local protoc = require "protoc"
--   local p = protoc.new()          -- or use `protoc` itself: protoc:load(...)
--   p:load(text, "name.proto")      -- parse, compile and pb.load
--   p:loadfile("name.proto")        -- the same, reading the file on p.paths
--   p:compile(text, name)           -- the FileDescriptorSet bytes
--   p:compilefile(name)
--   p:parse(text, name)             -- the FileDescriptorProto as a Lua table
--   p:parsefile(name)
--   p:addpath(dir), p:reset(), protoc.reload()
--   p.include_imports, p.paths, p.unknown_import, p.unknown_type, p.on_import
--
-- proto2 and proto3: package, import (plain, public, weak), messages (nested),
-- enums, oneofs, map<K, V>, labels, packed and other known options, default
-- values, extend and extensions, reserved, services and rpcs. A custom
-- option is kept when pb knows its extension; other options no options
-- message has are accepted and left out. What lua-protobuf's parser
-- accepts and protoc refuses (missing semicolons, proto3 enums not starting
-- at zero, ...) is accepted too. Groups and editions are not supported.
--
-- Descriptors are written as protoc writes them (`protoc -o`): json_name
-- for every field, exclusive ends for message reserved and extension
-- ranges, synthetic oneofs for proto3 `optional`, `syntax` only for proto3.
local pb = require "pb"

local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format
local concat, insert = table.concat, table.insert

local Parser = {}
Parser.__index = Parser
Parser.__name = "Parser"

Parser.paths = { "", "." }
Parser.loaded = {}
Parser.typemap = {}

--- A parser with its own loaded files and types.
function Parser.new()
	return setmetatable({ paths = { "", "." }, loaded = {}, typemap = {} }, Parser)
end

--- Forgets the files and types seen so far (the paths stay).
function Parser:reset()
	self.loaded = {}
	self.typemap = {}
	self.packages = {}
	return self
end

--- Adds a directory to search for imported files.
function Parser:addpath(path)
	insert(self.paths, path)
end

---------------------------------------------------------------------------
-- Tokens

local SIMPLE_ESCAPES = {
	a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v",
	["\\"] = "\\", ["'"] = "'", ['"'] = '"', ["?"] = "?",
}

local function utf8_char(cp)
	if cp > 0x10FFFF then
		return nil
	end
	return utf8.char(cp)
end

-- Splits `src` into tokens: { k = kind, v = text or value, l = line, c = column }.
-- Kinds: "id" (identifier), "int" (its text), "float" (its text), "str"
-- (the decoded bytes), "sym" (one punctuation character).
local function tokenize(name, src)
	local toks = {}
	local pos, line, line_start = 1, 1, 1
	local n = #src
	local function fail(msg, at)
		error(format("%s:%d:%d: %s", name, line, (at or pos) - line_start + 1, msg), 0)
	end
	while pos <= n do
		local c = byte(src, pos)
		if c == 10 then
			line, line_start, pos = line + 1, pos + 1, pos + 1
		elseif c == 32 or c == 9 or c == 13 or c == 11 or c == 12 then
			pos = pos + 1
		elseif c == 47 and byte(src, pos + 1) == 47 then -- //
			local e = find(src, "\n", pos, true)
			pos = e or n + 1
		elseif c == 47 and byte(src, pos + 1) == 42 then -- /*
			local _, e = find(src, "*/", pos + 2, true)
			if not e then
				fail "unfinished comment"
			end
			local body = sub(src, pos, e)
			for nl in body:gmatch "()\n" do
				line, line_start = line + 1, pos + nl
			end
			pos = e + 1
		else
			local tok = { l = line, c = pos - line_start + 1 }
			local s, e = find(src, "^[%a_][%w_]*", pos)
			if s then
				tok.k, tok.v = "id", sub(src, s, e)
			else
				s, e = find(src, "^0[xX]%x+", pos)
				if s then
					tok.k = "int"
				else
					s, e = find(src, "^%d*%.?%d*[eE][+-]?%d+", pos)
					if not s or e < s or not find(sub(src, s, e), "%d[eE]") then
						s, e = find(src, "^%d+%.%d*", pos)
						if not s then
							s, e = find(src, "^%.%d+", pos)
						end
					end
					if s then
						tok.k = "float"
					else
						s, e = find(src, "^%d+", pos)
						if s then
							tok.k = "int"
						end
					end
				end
				if s then
					tok.v = sub(src, s, e)
					if find(src, "^[%a_]", e + 1) and not (tok.k == "float" and find(src, "^[fF]%f[^%w_]", e + 1)) then
						fail("need space between number and identifier", e + 1)
					end
				end
			end
			if s then
				pos = e + 1
			elseif c == 34 or c == 39 then -- a quoted string
				local q = c
				local parts = {}
				local i = pos + 1
				while true do
					local d = byte(src, i)
					if d == nil or d == 10 then
						fail "unfinished string"
					elseif d == q then
						break
					elseif d == 92 then -- backslash
						local x = sub(src, i + 1, i + 1)
						if SIMPLE_ESCAPES[x] then
							parts[#parts + 1] = SIMPLE_ESCAPES[x]
							i = i + 2
						elseif x == "x" or x == "X" then
							local hs, he = find(src, "^%x%x?", i + 2)
							if not hs then
								fail("expected hex digits for escape sequence", i)
							end
							parts[#parts + 1] = char(tonumber(sub(src, hs, he), 16))
							i = he + 1
						elseif find(x, "^[0-7]") then
							local _, oe = find(src, "^[0-7][0-7]?[0-7]?", i + 1)
							local v = tonumber(sub(src, i + 1, oe), 8)
							if v > 255 then
								fail("octal escape out of range", i)
							end
							parts[#parts + 1] = char(v)
							i = oe + 1
						elseif x == "u" or x == "U" then
							local len = x == "u" and 4 or 8
							local hs, he = find(src, "^" .. ("%x"):rep(len), i + 2)
							local u = hs and utf8_char(tonumber(sub(src, hs, he), 16))
							if not u then
								fail("invalid unicode escape", i)
							end
							parts[#parts + 1] = u
							i = he + 1
						else
							fail("invalid escape sequence in string literal", i)
						end
					else
						local ps, pe = find(src, "^[^\\\n" .. char(q) .. "]+", i)
						parts[#parts + 1] = sub(src, ps, pe)
						i = pe + 1
					end
				end
				tok.k, tok.v = "str", concat(parts)
				pos = i + 1
			elseif find("{}[]()<>;,=.:-+/", char(c), 1, true) then
				tok.k, tok.v = "sym", char(c)
				pos = pos + 1
			else
				fail(format("invalid character %q", char(c)))
			end
			toks[#toks + 1] = tok
		end
	end
	toks[#toks + 1] = { k = "eof", v = "end of input", l = line, c = pos - line_start + 1 }
	return toks
end

---------------------------------------------------------------------------
-- The token cursor

local Lex = {}
Lex.__index = Lex

local function new_lex(name, src)
	return setmetatable({ name = name, toks = tokenize(name, src), i = 1 }, Lex)
end

function Lex:peek(k)
	return self.toks[self.i + (k or 0)]
end

function Lex:error(msg, tok)
	tok = tok or self.toks[self.i]
	error(format("%s:%d:%d: %s", self.name, tok.l, tok.c, msg), 0)
end

-- Consumes the token if it is the symbol or keyword `v`.
function Lex:test(v)
	local t = self.toks[self.i]
	if (t.k == "sym" or t.k == "id") and t.v == v then
		self.i = self.i + 1
		return true
	end
	return false
end

function Lex:expect(v, what)
	if not self:test(v) then
		local t = self.toks[self.i]
		self:error(format("%s expected, got '%s'", what or ("'" .. v .. "'"), t.v))
	end
end

function Lex:ident(what)
	local t = self.toks[self.i]
	if t.k ~= "id" then
		self:error(format("%s expected, got '%s'", what or "name", t.v))
	end
	self.i = self.i + 1
	return t.v, t
end

-- a.b.c
function Lex:full_ident(what)
	local parts = { (self:ident(what)) }
	while self:test "." do
		parts[#parts + 1] = self:ident(what)
	end
	return concat(parts, ".")
end

-- A type name: a full identifier, maybe with a leading dot.
function Lex:type_name()
	local tok = self:peek()
	if self:test "." then
		return "." .. self:full_ident "type name", tok
	end
	return self:full_ident "type name", tok
end

-- The rest of a dotted type name whose first part, `first`, was read.
function Lex:more_type(first)
	if first == "" or self.toks[self.i].v == "." and self.toks[self.i].k == "sym" then
		local parts = { first }
		while self:test "." do
			parts[#parts + 1] = self:ident "type name"
		end
		return concat(parts, ".")
	end
	return first
end

function Lex:string(what)
	local t = self.toks[self.i]
	if t.k ~= "str" then
		self:error(format("%s expected, got '%s'", what or "string", t.v))
	end
	local parts = {}
	while self.toks[self.i].k == "str" do -- adjacent literals join
		parts[#parts + 1] = self.toks[self.i].v
		self.i = self.i + 1
	end
	return concat(parts)
end

-- The end of a statement: `;` as protoc wants it, but (as lua-protobuf's
-- protoc.lua) also none, or several.
function Lex:semicolon()
	while self:test ";" do
	end
end

---------------------------------------------------------------------------
-- Numbers

-- An integer token's value as (negative, magnitude as unsigned 64-bit, ok).
local function int_value(text)
	local base, digits = 10, text
	if find(text, "^0[xX]") then
		base, digits = 16, sub(text, 3)
	elseif #text > 1 and sub(text, 1, 1) == "0" then
		base, digits = 8, sub(text, 2)
		if find(digits, "[89]") then
			return nil
		end
	end
	local v = 0
	for i = 1, #digits do
		local d = tonumber(sub(digits, i, i), 16)
		-- v * base + d must stay below 2^64: v <= (2^64 - 1 - d) / base,
		-- divided as unsigned numbers.
		local top = ~0 - d
		local q = ((top >> 1) // base) << 1
		if not math.ult(top - q * base, base) then
			q = q + 1
		end
		if math.ult(q, v) then
			return nil
		end
		v = v * base + d
	end
	return v
end

-- An unsigned 64-bit value in decimal.
local function udec(v)
	if v >= 0 then
		return format("%d", v)
	end
	local q = (v >> 1) // 5
	local r = v - q * 10
	return format("%d%d", q, r)
end

local INT_RANGES = {
	-- type: min magnitude when negative (unsigned), max when positive
	int32 = { 0x80000000, 0x7fffffff }, sint32 = { 0x80000000, 0x7fffffff },
	sfixed32 = { 0x80000000, 0x7fffffff },
	uint32 = { 0, 0xffffffff }, fixed32 = { 0, 0xffffffff },
	int64 = { math.mininteger, math.maxinteger }, sint64 = { math.mininteger, math.maxinteger },
	sfixed64 = { math.mininteger, math.maxinteger },
	uint64 = { 0, -1 }, fixed64 = { 0, -1 },
}

-- Reads an optional sign and an integer; returns (text, negative, magnitude).
function Lex:signed_int(what)
	local neg = false
	if self:test "-" then
		neg = true
	else
		self:test "+"
	end
	local t = self.toks[self.i]
	if t.k ~= "int" then
		self:error(format("%s expected, got '%s'", what or "integer", t.v))
	end
	local v = int_value(t.v)
	if not v then
		self:error("integer out of range", t)
	end
	self.i = self.i + 1
	return neg, v, t
end

-- An integer within int32 (tag numbers, enum values, ranges).
function Lex:int32(what)
	local neg, v, t = self:signed_int(what)
	if neg then
		if math.ult(0x80000000, v) then
			self:error("integer out of range", t)
		end
		return -v
	end
	if math.ult(0x7fffffff, v) then
		self:error("integer out of range", t)
	end
	return v
end

-- protoc's shortest decimal text for a double or float default.
local function float_text(x, is_float)
	if x ~= x then
		return "nan"
	elseif x == math.huge then
		return "inf"
	elseif x == -math.huge then
		return "-inf"
	end
	local digits = is_float and { 6, 9 } or { 15, 17 }
	local s = format("%." .. digits[1] .. "g", x)
	local back = tonumber(s)
	if is_float then
		back = string.unpack("<f", string.pack("<f", back))
		x = string.unpack("<f", string.pack("<f", x))
	end
	if back ~= x then
		s = format("%." .. digits[2] .. "g", x)
	end
	return s
end

-- protoc's escaping of a bytes default.
local function c_escape(s)
	return (s:gsub("[%c\"'\\\128-\255]", function(c)
		if c == "\n" then
			return "\\n"
		elseif c == "\r" then
			return "\\r"
		elseif c == "\t" then
			return "\\t"
		elseif c == '"' or c == "'" or c == "\\" then
			return "\\" .. c
		end
		return format("\\%03o", byte(c))
	end))
end

---------------------------------------------------------------------------
-- Option values

-- Reads an option value: { kind = "id"|"int"|"float"|"str"|"agg", ... }.
function Lex:constant()
	local t = self.toks[self.i]
	if t.k == "str" then
		return { kind = "str", v = self:string(), tok = t }
	elseif self:test "{" then -- a text-format aggregate: skipped as a whole
		local depth = 1
		while depth > 0 do
			local x = self.toks[self.i]
			if x.k == "eof" then
				self:error("unfinished aggregate value", t)
			elseif x.k == "sym" and (x.v == "{" or x.v == "<") then
				depth = depth + 1
			elseif x.k == "sym" and (x.v == "}" or x.v == ">") then
				depth = depth - 1
			end
			self.i = self.i + 1
		end
		return { kind = "agg", tok = t }
	end
	local neg = false
	if self:test "-" then
		neg = true
	else
		self:test "+"
	end
	t = self.toks[self.i]
	if t.k == "id" then
		self.i = self.i + 1
		if neg and t.v ~= "inf" and t.v ~= "nan" then
			self:error("number expected after '-'", t)
		end
		return { kind = "id", v = t.v, neg = neg, tok = t }
	elseif t.k == "int" then
		local v = int_value(t.v)
		self.i = self.i + 1
		return { kind = "int", v = v, neg = neg, text = t.v, tok = t }
	elseif t.k == "float" then
		self.i = self.i + 1
		return { kind = "float", v = tonumber((t.v:gsub("[fF]$", ""))), neg = neg, tok = t }
	end
	self:error(format("option value expected, got '%s'", t.v))
end

-- The number a constant stands for (ints, floats, inf, nan).
local function const_number(lex, c)
	local x
	if c.kind == "int" then
		if not c.v then
			x = tonumber(c.text)
		else
			x = c.v
			if x < 0 then -- above 2^63
				x = (x >> 1) * 2.0 + (x & 1)
			end
		end
	elseif c.kind == "float" then
		x = c.v
	elseif c.kind == "id" and (c.v == "inf" or c.v == "nan") then
		x = c.v == "inf" and math.huge or (0.0 / 0.0)
	else
		lex:error("number expected", c.tok)
	end
	return c.neg and -x or x
end

-- The default_value text protoc writes for a field of scalar type `ty`
-- (nil for a named type).
local function default_text(lex, ty, c)
	if ty == "string" or ty == "bytes" then
		if c.kind ~= "str" then
			lex:error("expected string for default value of a " .. ty .. " field", c.tok)
		end
		return ty == "bytes" and c_escape(c.v) or c.v
	elseif ty == "bool" then
		-- protoc takes only true and false; lua-protobuf's protoc.lua keeps
		-- any name (pb then gives the field no default)
		if c.kind ~= "id" or c.neg then
			lex:error("expected 'true' or 'false' for default value", c.tok)
		end
		return c.v
	elseif ty == "double" or ty == "float" then
		return float_text(const_number(lex, c), ty == "float")
	elseif INT_RANGES[ty] then
		if c.kind ~= "int" then
			lex:error("expected integer for default value of a " .. ty .. " field", c.tok)
		end
		local r = INT_RANGES[ty]
		if not c.v or (c.neg and math.ult(r[1], c.v)) or (not c.neg and math.ult(r[2], c.v)) then
			lex:error("integer out of range", c.tok)
		end
		if c.neg then
			return c.v == 0 and "0" or format("%d", -c.v)
		end
		return udec(c.v)
	end
	-- an enum (or, wrongly, a message): the value's name
	if c.kind ~= "id" or c.neg then
		lex:error("expected an enum value name for default value", c.tok)
	end
	return c.v
end

---------------------------------------------------------------------------
-- Field types

local SCALAR = {
	double = 1, float = 2, int64 = 3, uint64 = 4, int32 = 5, fixed64 = 6,
	fixed32 = 7, bool = 8, string = 9, bytes = 12, uint32 = 13,
	sfixed32 = 15, sfixed64 = 16, sint32 = 17, sint64 = 18,
}
local MAP_KEY = {
	int32 = true, int64 = true, uint32 = true, uint64 = true, sint32 = true,
	sint64 = true, fixed32 = true, fixed64 = true, sfixed32 = true,
	sfixed64 = true, bool = true, string = true,
}
local LABEL = { optional = 1, required = 2, repeated = 3 }
local T_MESSAGE, T_ENUM = 11, 14
local MAX_FIELD = 536870911

-- protoc's json_name: underscores dropped, the letter after them upper case.
local function json_name(name)
	return (name:gsub("_+(.?)", string.upper))
end

-- protoc's name for a map field's entry type: the same, first letter up.
local function map_entry_name(name)
	return (("_" .. name):gsub("_+(.?)", string.upper)) .. "Entry"
end

local function get(t, k)
	local v = t[k]
	if v == nil then
		v = {}
		t[k] = v
	end
	return v
end

---------------------------------------------------------------------------
-- The parse of one file

local Ctx = {}
Ctx.__index = Ctx

-- Options whose names an options message of descriptor.proto has are kept
-- (with a value of the right kind); others are accepted and left out.
function Ctx:option(lex, owner, options_type, name, c, custom)
	if custom then
		-- the owner has options, as in protoc's descriptor, whether or not
		-- pb knows the extension (if it does, the value is kept below)
		get(owner, "options")
	end
	if name == nil then
		return
	end
	local value
	if self.bootstrap then
		if c.kind == "id" and (c.v == "true" or c.v == "false") then
			value = c.v == "true"
		else
			value = c.v
		end
	else
		local _, _, ftype = pb.field(".google.protobuf." .. options_type, name)
		if not ftype then
			return
		end
		local enum_type
		if sub(ftype, 1, 1) == "." then
			local _, _, kind = pb.type(ftype)
			enum_type, ftype = ftype, kind
		end
		if ftype == "bool" then
			if c.kind ~= "id" or (c.v ~= "true" and c.v ~= "false") then
				lex:error(format("value must be 'true' or 'false' for option '%s'", name), c.tok)
			end
			value = c.v == "true"
		elseif ftype == "string" or ftype == "bytes" then
			if c.kind ~= "str" then
				lex:error(format("value must be quoted string for option '%s'", name), c.tok)
			end
			value = c.v
		elseif ftype == "enum" then
			if c.kind ~= "id" or c.neg then
				lex:error(format("value must be identifier for option '%s'", name), c.tok)
			end
			if not pb.enum(enum_type, c.v) then
				lex:error(format("enum type has no value named '%s' for option '%s'", c.v, name), c.tok)
			end
			value = c.v
		elseif ftype == "message" then
			return
		else
			value = const_number(lex, c)
			if math.type(value) == "float" and ftype ~= "double" and ftype ~= "float" then
				lex:error(format("value must be integer for option '%s'", name), c.tok)
			end
		end
	end
	get(owner, "options")[name] = value
end

-- An option name: `a`, `a.b`, `(x.y)`, `(x.y).b`; nil when it is one this
-- module leaves out.
function Ctx:option_name(lex)
	local plain, parts = true, {}
	repeat
		if lex:test "(" then
			plain = false
			if lex:test "." then
				parts[#parts + 1] = "." .. lex:full_ident "option name"
			else
				parts[#parts + 1] = lex:full_ident "option name"
			end
			lex:expect ")"
		else
			parts[#parts + 1] = lex:ident "option name"
		end
	until not lex:test "."
	if #parts == 1 then
		if plain then
			return parts[1]
		end
		-- a custom option: pb names an extension field by its last part
		return parts[1]:match "([^.]+)$", true
	end
	return nil
end

-- `option name = value;`
function Ctx:option_stmt(lex, owner, options_type)
	local name, custom = self:option_name(lex)
	lex:expect "="
	local c = lex:constant()
	lex:semicolon()
	self:option(lex, owner, options_type, name, c, custom)
end

-- `[name = value, ...]`, calling each(name, constant) for every pair.
function Ctx:inline_options(lex, each)
	if not lex:test "[" then
		return
	end
	repeat
		local tok = lex:peek()
		local name, custom = self:option_name(lex)
		lex:expect "="
		each(name, lex:constant(), tok, custom)
	until not lex:test ","
	lex:expect "]"
end

function Ctx:define(lex, full, kind, tok)
	if self.typemap[full] or self.symbols[full] then
		lex:error(format("'%s' is already defined", sub(full, 2)), tok)
	end
	self.typemap[full] = kind
	self.symbols[full] = kind
end

-- A field's type: (type number or nil, type name or nil, scalar name).
local function field_type(lex, name, tok)
	if SCALAR[name] then
		return SCALAR[name], nil, name
	elseif name == "group" then
		lex:error("groups are not supported", tok)
	end
	return nil, name, nil
end

-- Reads `name = number [options];` after the type; `f` has label and type.
function Ctx:field_rest(lex, f, scalar)
	local name, ntok = lex:ident "field name"
	f.name = name
	lex:expect "="
	local ntok2 = lex:peek()
	local number = lex:int32 "field number"
	if number <= 0 or number > MAX_FIELD then
		lex:error("field numbers must be positive integers up to " .. MAX_FIELD, ntok2)
	end
	f.number = number
	self:inline_options(lex, function(oname, c, _, custom)
		if oname == "default" and not custom then
			f.default_value = default_text(lex, scalar, c)
		elseif oname == "json_name" and not custom then
			if c.kind ~= "str" then
				lex:error("expected string for json_name", c.tok)
			end
			f.json_name = c.v
		else
			self:option(lex, f, "FieldOptions", oname, c, custom)
		end
	end)
	if not f.json_name then
		f.json_name = json_name(name)
	end
	lex:semicolon()
	self.where[f] = ntok
	return f
end

-- `map<K, V> name = n [...];` in message `msg` (scope `scope`).
function Ctx:map_field(lex, msg, scope)
	lex:expect "<"
	local ktok = lex:peek()
	local kname = lex:ident "map key type"
	if not MAP_KEY[kname] then
		lex:error("invalid map key type: " .. kname, ktok)
	end
	lex:expect ","
	local vname, vtok = lex:type_name()
	lex:expect ">"
	local vt, vtn = field_type(lex, vname, vtok)
	local f = { label = 3, type = T_MESSAGE }
	local fname_tok = lex:peek()
	self:field_rest(lex, f, nil)
	local entry_name = map_entry_name(f.name)
	local entry = {
		name = entry_name,
		field = {
			{ name = "key", number = 1, label = 1, type = SCALAR[kname], json_name = "key" },
			{ name = "value", number = 2, label = 1, type = vt, type_name = vtn, json_name = "value" },
		},
		options = { map_entry = true },
	}
	self.where[entry.field[1]] = ktok
	self.where[entry.field[2]] = vtok
	self.scopes[entry.field[1]] = scope .. entry_name .. "."
	self.scopes[entry.field[2]] = scope .. entry_name .. "."
	self:define(lex, scope .. entry_name, "message", fname_tok)
	self.scopes[entry] = scope .. entry_name
	f.type_name = entry_name
	insert(get(msg, "nested_type"), entry)
	self.scopes[f] = scope
	return f
end

-- One labelled (or, in proto3, unlabelled) field in a message or extend.
-- One field of a message or an extend block, after its first word.
function Ctx:field(lex, first, first_tok, scope, in_extend)
	local label = LABEL[first]
	local tname, ttok
	if label then
		tname, ttok = lex:type_name()
	else
		tname, ttok = lex:more_type(first), first_tok
		if self.syntax == "proto2" then
			lex:error("expected 'required', 'optional', or 'repeated'", first_tok)
		end
		label = 1
	end
	local ty, type_name, scalar = field_type(lex, tname, ttok)
	local f = { label = label, type = ty, type_name = type_name }
	if label == 1 and self.syntax == "proto3" and first == "optional" and not in_extend then
		f.proto3_optional = true
	end
	self:field_rest(lex, f, scalar)
	self.scopes[f] = scope
	return f
end

function Ctx:reserved(lex, owner, is_enum)
	local t = lex:peek()
	if t.k == "str" or (t.k == "id" and t.v ~= "max") then
		repeat
			local name
			if lex:peek().k == "str" then
				name = lex:string "reserved name"
			else
				name = lex:ident "reserved name"
			end
			insert(get(owner, "reserved_name"), name)
		until not lex:test ","
	else
		repeat
			local start = lex:int32 "reserved number"
			local stop = start
			if lex:test "to" then
				if lex:test "max" then
					stop = is_enum and 0x7fffffff or MAX_FIELD
				else
					stop = lex:int32 "reserved range end"
				end
			end
			if stop < start then
				lex:error("reserved range end number must be greater than start number", t)
			end
			insert(get(owner, "reserved_range"), { start = start, ["end"] = is_enum and stop or stop + 1 })
		until not lex:test ","
	end
	lex:semicolon()
end

function Ctx:extensions(lex, msg)
	repeat
		local t = lex:peek()
		local start = lex:int32 "extension number"
		local stop = start
		if lex:test "to" then
			if lex:test "max" then
				stop = MAX_FIELD
			else
				stop = lex:int32 "extension range end"
			end
		end
		if start <= 0 or stop < start then
			lex:error("invalid extension range", t)
		end
		insert(get(msg, "extension_range"), { start = start, ["end"] = stop + 1 })
	until not lex:test ","
	self:inline_options(lex, function() end)
	lex:semicolon()
end

-- `extend Name { fields }`: fields go to `fields_out`, map entries are not
-- allowed there.
function Ctx:extend(lex, scope, owner)
	local name, tok = lex:type_name()
	lex:expect "{"
	while not lex:test "}" do
		if not lex:test ";" then
			local first, ftok = lex:ident "field label or type"
			local f = self:field(lex, first, ftok, scope, true)
			f.extendee = name
			self.where[f] = self.where[f] or tok
			self.extendee_tok[f] = tok
			insert(get(owner, "extension"), f)
		end
	end
end

function Ctx:oneof(lex, msg, scope, index)
	local name = lex:ident "oneof name"
	local decl = { name = name }
	lex:expect "{"
	while not lex:test "}" do
		if lex:test "option" then
			self:option_stmt(lex, decl, "OneofOptions")
		elseif not lex:test ";" then
			local first, ftok = "", lex:peek()
			if ftok.v ~= "." then
				first, ftok = lex:ident "field type"
			end
			if LABEL[first] then
				lex:error("fields in oneofs must not have labels (required / optional / repeated)", ftok)
			elseif first == "map" and lex:peek().v == "<" then
				lex:error("map fields are not allowed in oneofs", ftok)
			end
			local ty, type_name, scalar = field_type(lex, lex:more_type(first), ftok)
			local f = { label = 1, type = ty, type_name = type_name }
			self:field_rest(lex, f, scalar)
			f.oneof_index = index
			self.scopes[f] = scope
			insert(get(msg, "field"), f)
		end
	end
	return decl
end

function Ctx:enum(lex, scope, owner)
	local name, tok = lex:ident "enum name"
	local full = scope .. name
	self:define(lex, full, "enum", tok)
	local e = { name = name }
	self.where[e] = tok
	lex:expect "{"
	while not lex:test "}" do
		if lex:test "option" then
			self:option_stmt(lex, e, "EnumOptions")
		elseif lex:test "reserved" then
			self:reserved(lex, e, true)
		elseif not lex:test ";" then
			local vname, vtok = lex:ident "enum constant name"
			lex:expect "="
			local v = { name = vname, number = lex:int32 "enum value number" }
			self:inline_options(lex, function(oname, c, _, custom)
				self:option(lex, v, "EnumValueOptions", oname, c, custom)
			end)
			lex:semicolon()
			self.where[v] = vtok
			insert(get(e, "value"), v)
		end
	end
	insert(get(owner, "enum_type"), e)
	return e
end

function Ctx:message(lex, scope, list)
	local name, tok = lex:ident "message name"
	local full = scope .. name
	self:define(lex, full, "message", tok)
	local m = { name = name }
	self.where[m] = tok
	self.scopes[m] = full
	local inner = full .. "."
	local oneofs = {}
	lex:expect "{"
	while not lex:test "}" do
		local t = lex:peek()
		if lex:test ";" then
			-- empty statement
		elseif t.k == "sym" and t.v == "." and self.syntax == "proto3" then
			local f = self:field(lex, "", t, inner, false)
			insert(get(m, "field"), f)
		elseif t.k ~= "id" then
			lex:error(format("field or declaration expected, got '%s'", t.v))
		else
			local word = t.v
			local nxt = lex:peek(1)
			-- A keyword followed by '=' or by what ends a declaration is a
			-- field type of that name instead.
			if word == "message" and nxt.k == "id" and lex:peek(2).v == "{" then
				lex.i = lex.i + 1
				self:message(lex, inner, get(m, "nested_type"))
			elseif word == "enum" and nxt.k == "id" and lex:peek(2).v == "{" then
				lex.i = lex.i + 1
				self:enum(lex, inner, m)
			elseif word == "extend" and (nxt.k == "id" or nxt.v == ".") and lex:peek(2).v ~= "=" then
				lex.i = lex.i + 1
				self:extend(lex, inner, m)
			elseif word == "extensions" and nxt.k == "int" then
				lex.i = lex.i + 1
				self:extensions(lex, m)
			elseif word == "reserved" and (nxt.k == "int" or nxt.k == "str") then
				lex.i = lex.i + 1
				self:reserved(lex, m, false)
			elseif word == "oneof" and nxt.k == "id" and lex:peek(2).v == "{" then
				lex.i = lex.i + 1
				local idx = #oneofs
				oneofs[idx + 1] = self:oneof(lex, m, inner, idx)
			elseif word == "option" then
				lex.i = lex.i + 1
				self:option_stmt(lex, m, "MessageOptions")
			elseif word == "map" and nxt.v == "<" then
				lex.i = lex.i + 1
				local f = self:map_field(lex, m, inner)
				insert(get(m, "field"), f)
			else
				lex.i = lex.i + 1
				local f = self:field(lex, word, t, inner, false)
				insert(get(m, "field"), f)
			end
		end
	end
	-- proto3 `optional` fields: one synthetic oneof each, after the others
	for _, f in ipairs(m.field or {}) do
		if f.proto3_optional then
			local oname = "_" .. f.name
			local taken = {}
			for _, o in ipairs(oneofs) do
				taken[o.name] = true
			end
			for _, g in ipairs(m.field) do
				taken[g.name] = true
			end
			while taken[oname] do
				oname = "X" .. oname
			end
			f.oneof_index = #oneofs
			oneofs[#oneofs + 1] = { name = oname }
		end
	end
	if #oneofs > 0 then
		m.oneof_decl = oneofs
	end
	insert(list, m)
	return m
end

function Ctx:service(lex, file)
	local name, tok = lex:ident "service name"
	local s = { name = name }
	self.where[s] = tok
	lex:expect "{"
	while not lex:test "}" do
		if lex:test "option" then
			self:option_stmt(lex, s, "ServiceOptions")
		elseif lex:test "rpc" then
			local mname, mtok = lex:ident "rpc name"
			local m = { name = mname }
			self.where[m] = mtok
			lex:expect "("
			if lex:peek().v == "stream" and lex:peek(1).v ~= ")" then
				lex.i = lex.i + 1
				m.client_streaming = true
			end
			m.input_type = lex:type_name()
			lex:expect ")"
			lex:expect "returns"
			lex:expect "("
			if lex:peek().v == "stream" and lex:peek(1).v ~= ")" then
				lex.i = lex.i + 1
				m.server_streaming = true
			end
			m.output_type = lex:type_name()
			lex:expect ")"
			if lex:test "{" then
				-- protoc gives a method with a body options, even empty ones
				get(m, "options")
				while not lex:test "}" do
					if lex:test "option" then
						self:option_stmt(lex, m, "MethodOptions")
					else
						lex:expect(";", "'option' or '}'")
					end
				end
				lex:test ";"
			else
				lex:semicolon()
			end
			insert(get(s, "method"), m)
		elseif not lex:test ";" then
			lex:error(format("'rpc' or 'option' expected in service body, got '%s'", lex:peek().v))
		end
	end
	insert(get(file, "service"), s)
end

---------------------------------------------------------------------------
-- Name resolution

-- Finds type `name` used in scope `scope` (".pkg.Msg."), as protoc does:
-- the innermost scope that has the name's first part decides.
function Ctx:resolve_name(lex, name, scope, tok, what)
	if sub(name, 1, 1) == "." then
		local kind = self.typemap[name]
		if kind then
			return name, kind
		end
	else
		local first = name:match "^[^.]+"
		local compound = #first < #name
		local s = scope
		while true do
			local cand = s .. first
			local kind = self.typemap[cand] or self.packages[cand]
			if kind and (compound and kind ~= "enum") then
				local full = s .. name
				local k2 = self.typemap[full]
				if k2 then
					return full, k2
				end
				break
			elseif kind and not compound and kind ~= "package" then
				return cand, kind
			end
			if s == "." then
				break
			end
			s = s:match "^(.*%.)[^.]+%.$"
		end
	end
	local fallback = self.unknown_type
	if fallback then
		local full
		if fallback == true then
			full = true
		elseif type(fallback) == "string" then
			full = name:match(fallback) and true
		else
			full = fallback(self, name)
		end
		if full then
			if full == true then
				full = sub(name, 1, 1) == "." and name or "." .. name
			end
			return full, "message"
		end
	end
	lex:error(format("unknown type '%s'%s", name, what or ""), tok)
end

function Ctx:resolve_field(lex, f)
	local tok = self.where[f]
	if f.extendee then
		local full, kind = self:resolve_name(lex, f.extendee, self.scopes[f], self.extendee_tok[f] or tok)
		if kind ~= "message" then
			lex:error(format("'%s' is not a message type", f.extendee), tok)
		end
		f.extendee = full
	end
	if f.type_name then
		local full, kind = self:resolve_name(lex, f.type_name, self.scopes[f], tok)
		f.type_name = full
		f.type = kind == "enum" and T_ENUM or T_MESSAGE
	end
end

function Ctx:check_message(lex, m)
	local names, numbers = {}, {}
	for _, f in ipairs(m.field or {}) do
		local tok = self.where[f]
		if names[f.name] then
			lex:error(format("field name '%s' is already used in '%s'", f.name, m.name), tok)
		end
		if numbers[f.number] then
			lex:error(format("field number %d has already been used in '%s' by field '%s'",
				f.number, m.name, numbers[f.number]), tok)
		end
		names[f.name], numbers[f.number] = true, f.name
		for _, r in ipairs(m.reserved_range or {}) do
			if f.number >= r.start and f.number < r["end"] then
				lex:error(format("field '%s' uses reserved number %d", f.name, f.number), tok)
			end
		end
		for _, rn in ipairs(m.reserved_name or {}) do
			if rn == f.name then
				lex:error(format("field name '%s' is reserved", f.name), tok)
			end
		end
		self:resolve_field(lex, f)
	end
	for _, f in ipairs(m.extension or {}) do
		self:resolve_field(lex, f)
	end
	for _, n in ipairs(m.nested_type or {}) do
		self:check_message(lex, n)
	end
	for _, e in ipairs(m.enum_type or {}) do
		self:check_enum(lex, e)
	end
end

function Ctx:check_enum(lex, e)
	local names, numbers = {}, {}
	local alias = e.options and e.options.allow_alias
	for _, v in ipairs(e.value or {}) do
		if names[v.name] then
			lex:error(format("enum value '%s' is already defined in '%s'", v.name, e.name), self.where[v])
		end
		if numbers[v.number] and not alias then
			lex:error(format("enum value %d of '%s' is already used by '%s' (set option allow_alias = true to allow it)",
				v.number, v.name, numbers[v.number]), self.where[v])
		end
		names[v.name], numbers[v.number] = true, v.name
	end
end

function Ctx:resolve(lex, file)
	local scope = file.package and ("." .. file.package .. ".") or "."
	for _, m in ipairs(file.message_type or {}) do
		self:check_message(lex, m)
	end
	for _, e in ipairs(file.enum_type or {}) do
		self:check_enum(lex, e)
	end
	for _, f in ipairs(file.extension or {}) do
		self:resolve_field(lex, f)
	end
	for _, s in ipairs(file.service or {}) do
		local names = {}
		for _, m in ipairs(s.method or {}) do
			local tok = self.where[m]
			if names[m.name] then
				lex:error(format("rpc '%s' is already defined in service '%s'", m.name, s.name), tok)
			end
			names[m.name] = true
			for _, k in ipairs { "input_type", "output_type" } do
				local full, kind = self:resolve_name(lex, m[k], scope, tok)
				if kind ~= "message" then
					lex:error(format("'%s' is not a message type", m[k]), tok)
				end
				m[k] = full
			end
		end
	end
end

---------------------------------------------------------------------------
-- Files

local function new_ctx(self, lex)
	local ctx = setmetatable({
		parser = self,
		syntax = "proto2",
		typemap = self.typemap,
		symbols = {},
		packages = self.packages or {},
		where = {},
		scopes = {},
		extendee_tok = {},
		unknown_type = self.unknown_type,
		bootstrap = self.bootstrap,
	}, Ctx)
	self.packages = ctx.packages
	return ctx
end

-- Parses one file's text; its FileDescriptorProto as a table.
local function parse_text(self, src, name)
	local lex = new_lex(name, src)
	local ctx = new_ctx(self, lex)
	local file = { name = name }
	if lex:peek().v == "syntax" and lex:peek(1).v == "=" then
		lex.i = lex.i + 2
		local stok = lex:peek()
		local syntax = lex:string "syntax"
		if syntax ~= "proto2" and syntax ~= "proto3" then
			lex:error(format("unrecognized syntax identifier '%s' (only 'proto2' and 'proto3')", syntax), stok)
		end
		lex:semicolon()
		ctx.syntax = syntax
		if syntax == "proto3" then
			file.syntax = syntax
		end
	elseif lex:peek().v == "edition" and lex:peek(1).v == "=" then
		lex:error "editions are not supported (only 'proto2' and 'proto3')"
	end
	local scope = "."
	while lex:peek().k ~= "eof" do
		if not lex:test ";" then
			local word, tok = lex:ident "top-level declaration"
			if word == "package" then
				if file.package then
					lex:error("multiple package definitions", tok)
				end
				file.package = lex:full_ident "package name"
				lex:semicolon()
				scope = "." .. file.package .. "."
				local p = ""
				for part in file.package:gmatch "[^.]+" do
					p = p .. "." .. part
					ctx.packages[p] = "package"
				end
			elseif word == "import" then
				local mode
				if lex:test "public" then
					mode = "public_dependency"
				elseif lex:test "weak" then
					mode = "weak_dependency"
				end
				local iname = lex:string "import file name"
				lex:semicolon()
				local deps = get(file, "dependency")
				if mode then
					insert(get(file, mode), #deps)
				end
				deps[#deps + 1] = iname
				local info = self:parsefile(iname)
				if type(info) == "table" and self.on_import then
					self.on_import(info)
				end
			elseif word == "option" then
				ctx:option_stmt(lex, file, "FileOptions")
			elseif word == "message" then
				ctx:message(lex, scope, get(file, "message_type"))
			elseif word == "enum" then
				ctx:enum(lex, scope, file)
			elseif word == "service" then
				ctx:service(lex, file)
			elseif word == "extend" then
				ctx:extend(lex, scope, file)
			else
				lex:error(format("unknown keyword '%s'", word), tok)
			end
		end
	end
	ctx:resolve(lex, file)
	return file
end

--- Parses `src` (the text of file `name`) into its FileDescriptorProto as
--- a Lua table; a file already parsed under that name is not parsed again.
function Parser:parse(src, name)
	if self == Parser then
		self = Parser.new()
	end
	name = name or "<input>"
	local done = self.loaded[name]
	if done == true then
		error("loop loaded: " .. name, 0)
	elseif done then
		return done
	end
	self.loaded[name] = true
	local ok, file = pcall(parse_text, self, src, name)
	if not ok then
		self.loaded[name] = nil
		error(file, 0)
	end
	self.loaded[name] = name ~= "<input>" and file or nil
	return file
end

--- Finds `name` on `self.paths` and parses it (or asks unknown_import).
function Parser:parsefile(name)
	local done = self.loaded[name]
	if done and done ~= true then
		return done
	end
	local tried = {}
	for _, dir in ipairs(self.paths) do
		local path = dir ~= "" and (dir .. "/" .. name) or name
		local fh, err
		if io and io.open then
			fh, err = io.open(path, "rb")
		else
			err = path .. ": file access is not available in this service"
		end
		if fh then
			local text = fh:read "a"
			fh:close()
			return self:parse(text, name)
		end
		tried[#tried + 1] = err or (path .. ": unknown error")
	end
	if name == "google/protobuf/descriptor.proto" then
		return self:parse(Parser.descriptor_text, name)
	end
	local fallback = self.unknown_import
	local info
	if fallback == true then
		info = true
	elseif fallback then
		info = fallback(self, name)
	end
	if not info then
		error("module load error: " .. name .. "\n\t" .. concat(tried, "\n\t"), 0)
	end
	return info
end

---------------------------------------------------------------------------
-- descriptor.proto: the schema of descriptors, for pb to encode them with

Parser.descriptor_text = [[
syntax = "proto2";
package google.protobuf;

message FileDescriptorSet { repeated FileDescriptorProto file = 1; }

message FileDescriptorProto {
  optional string name = 1;
  optional string package = 2;
  repeated string dependency = 3;
  repeated int32 public_dependency = 10;
  repeated int32 weak_dependency = 11;
  repeated DescriptorProto message_type = 4;
  repeated EnumDescriptorProto enum_type = 5;
  repeated ServiceDescriptorProto service = 6;
  repeated FieldDescriptorProto extension = 7;
  optional FileOptions options = 8;
  optional SourceCodeInfo source_code_info = 9;
  optional string syntax = 12;
}

message DescriptorProto {
  optional string name = 1;
  repeated FieldDescriptorProto field = 2;
  repeated FieldDescriptorProto extension = 6;
  repeated DescriptorProto nested_type = 3;
  repeated EnumDescriptorProto enum_type = 4;
  message ExtensionRange {
    optional int32 start = 1;
    optional int32 end = 2;
    optional ExtensionRangeOptions options = 3;
  }
  repeated ExtensionRange extension_range = 5;
  repeated OneofDescriptorProto oneof_decl = 8;
  optional MessageOptions options = 7;
  message ReservedRange {
    optional int32 start = 1;
    optional int32 end = 2;
  }
  repeated ReservedRange reserved_range = 9;
  repeated string reserved_name = 10;
}

message ExtensionRangeOptions {
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message FieldDescriptorProto {
  enum Type {
    TYPE_DOUBLE = 1; TYPE_FLOAT = 2; TYPE_INT64 = 3; TYPE_UINT64 = 4;
    TYPE_INT32 = 5; TYPE_FIXED64 = 6; TYPE_FIXED32 = 7; TYPE_BOOL = 8;
    TYPE_STRING = 9; TYPE_GROUP = 10; TYPE_MESSAGE = 11; TYPE_BYTES = 12;
    TYPE_UINT32 = 13; TYPE_ENUM = 14; TYPE_SFIXED32 = 15; TYPE_SFIXED64 = 16;
    TYPE_SINT32 = 17; TYPE_SINT64 = 18;
  }
  enum Label { LABEL_OPTIONAL = 1; LABEL_REQUIRED = 2; LABEL_REPEATED = 3; }
  optional string name = 1;
  optional int32 number = 3;
  optional Label label = 4;
  optional Type type = 5;
  optional string type_name = 6;
  optional string extendee = 2;
  optional string default_value = 7;
  optional int32 oneof_index = 9;
  optional string json_name = 10;
  optional FieldOptions options = 8;
  optional bool proto3_optional = 17;
}

message OneofDescriptorProto {
  optional string name = 1;
  optional OneofOptions options = 2;
}

message EnumDescriptorProto {
  optional string name = 1;
  repeated EnumValueDescriptorProto value = 2;
  optional EnumOptions options = 3;
  message EnumReservedRange {
    optional int32 start = 1;
    optional int32 end = 2;
  }
  repeated EnumReservedRange reserved_range = 4;
  repeated string reserved_name = 5;
}

message EnumValueDescriptorProto {
  optional string name = 1;
  optional int32 number = 2;
  optional EnumValueOptions options = 3;
}

message ServiceDescriptorProto {
  optional string name = 1;
  repeated MethodDescriptorProto method = 2;
  optional ServiceOptions options = 3;
}

message MethodDescriptorProto {
  optional string name = 1;
  optional string input_type = 2;
  optional string output_type = 3;
  optional MethodOptions options = 4;
  optional bool client_streaming = 5 [default = false];
  optional bool server_streaming = 6 [default = false];
}

message FileOptions {
  optional string java_package = 1;
  optional string java_outer_classname = 8;
  optional bool java_multiple_files = 10 [default = false];
  optional bool java_generate_equals_and_hash = 20 [deprecated = true];
  optional bool java_string_check_utf8 = 27 [default = false];
  enum OptimizeMode { SPEED = 1; CODE_SIZE = 2; LITE_RUNTIME = 3; }
  optional OptimizeMode optimize_for = 9 [default = SPEED];
  optional string go_package = 11;
  optional bool cc_generic_services = 16 [default = false];
  optional bool java_generic_services = 17 [default = false];
  optional bool py_generic_services = 18 [default = false];
  optional bool php_generic_services = 42 [default = false];
  optional bool deprecated = 23 [default = false];
  optional bool cc_enable_arenas = 31 [default = true];
  optional string objc_class_prefix = 36;
  optional string csharp_namespace = 37;
  optional string swift_prefix = 39;
  optional string php_class_prefix = 40;
  optional string php_namespace = 41;
  optional string php_metadata_namespace = 44;
  optional string ruby_package = 45;
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message MessageOptions {
  optional bool message_set_wire_format = 1 [default = false];
  optional bool no_standard_descriptor_accessor = 2 [default = false];
  optional bool deprecated = 3 [default = false];
  optional bool map_entry = 7;
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message FieldOptions {
  optional CType ctype = 1 [default = STRING];
  enum CType { STRING = 0; CORD = 1; STRING_PIECE = 2; }
  optional bool packed = 2;
  optional JSType jstype = 6 [default = JS_NORMAL];
  enum JSType { JS_NORMAL = 0; JS_STRING = 1; JS_NUMBER = 2; }
  optional bool lazy = 5 [default = false];
  optional bool unverified_lazy = 15 [default = false];
  optional bool deprecated = 3 [default = false];
  optional bool weak = 10 [default = false];
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message OneofOptions {
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message EnumOptions {
  optional bool allow_alias = 2;
  optional bool deprecated = 3 [default = false];
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message EnumValueOptions {
  optional bool deprecated = 1 [default = false];
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message ServiceOptions {
  optional bool deprecated = 33 [default = false];
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message MethodOptions {
  optional bool deprecated = 33 [default = false];
  enum IdempotencyLevel { IDEMPOTENCY_UNKNOWN = 0; NO_SIDE_EFFECTS = 1; IDEMPOTENT = 2; }
  optional IdempotencyLevel idempotency_level = 34 [default = IDEMPOTENCY_UNKNOWN];
  repeated UninterpretedOption uninterpreted_option = 999;
  extensions 1000 to max;
}

message UninterpretedOption {
  message NamePart {
    required string name_part = 1;
    required bool is_extension = 2;
  }
  repeated NamePart name = 2;
  optional string identifier_value = 3;
  optional uint64 positive_int_value = 4;
  optional int64 negative_int_value = 5;
  optional double double_value = 6;
  optional bytes string_value = 7;
  optional string aggregate_value = 8;
}

message SourceCodeInfo {
  repeated Location location = 1;
  message Location {
    repeated int32 path = 1 [packed = true];
    repeated int32 span = 2 [packed = true];
    optional string leading_comments = 3;
    optional string trailing_comments = 4;
    repeated string leading_detached_comments = 6;
  }
}

message GeneratedCodeInfo {
  repeated Annotation annotation = 1;
  message Annotation {
    repeated int32 path = 1 [packed = true];
    optional string source_file = 2;
    optional int32 begin = 3;
    optional int32 end = 4;
  }
}
]]

-- A small wire writer for the one set written before pb knows descriptors:
-- (field number, kind, repeated, message shape) per field name.
local SHAPES
SHAPES = {
	FileDescriptorSet = { file = { 1, "m", true, "FileDescriptorProto" } },
	FileDescriptorProto = {
		name = { 1, "s" }, package = { 2, "s" }, dependency = { 3, "s", true },
		message_type = { 4, "m", true, "DescriptorProto" },
		enum_type = { 5, "m", true, "EnumDescriptorProto" },
		extension = { 7, "m", true, "FieldDescriptorProto" }, syntax = { 12, "s" },
	},
	DescriptorProto = {
		name = { 1, "s" }, field = { 2, "m", true, "FieldDescriptorProto" },
		nested_type = { 3, "m", true, "DescriptorProto" },
		enum_type = { 4, "m", true, "EnumDescriptorProto" },
		extension_range = { 5, "m", true, "Range" },
		extension = { 6, "m", true, "FieldDescriptorProto" },
		options = { 7, "m", false, "MessageOptions" },
		oneof_decl = { 8, "m", true, "Oneof" },
	},
	Range = { start = { 1, "i" }, ["end"] = { 2, "i" } },
	Oneof = { name = { 1, "s" } },
	MessageOptions = { map_entry = { 7, "b" } },
	FieldDescriptorProto = {
		name = { 1, "s" }, extendee = { 2, "s" }, number = { 3, "i" }, label = { 4, "i" },
		type = { 5, "i" }, type_name = { 6, "s" }, default_value = { 7, "s" },
		options = { 8, "m", false, "FieldOptions" }, oneof_index = { 9, "i" },
		json_name = { 10, "s" },
	},
	FieldOptions = { packed = { 2, "b" }, deprecated = { 3, "b" } },
	EnumDescriptorProto = { name = { 1, "s" }, value = { 2, "m", true, "EnumValueDescriptorProto" } },
	EnumValueDescriptorProto = { name = { 1, "s" }, number = { 2, "i" } },
}

local function varint(n)
	local out = {}
	repeat
		local b = n & 0x7f
		n = n >> 7
		out[#out + 1] = char(n ~= 0 and (b | 0x80) or b)
	until n == 0
	return concat(out)
end

local function write_message(shape_name, t)
	local shape = SHAPES[shape_name]
	local keys = {}
	for k in pairs(t) do
		if shape[k] then
			keys[#keys + 1] = k
		end
	end
	table.sort(keys, function(a, b) return shape[a][1] < shape[b][1] end)
	local out = {}
	for _, k in ipairs(keys) do
		local num, kind, rep, sub_shape = table.unpack(shape[k])
		local values = rep and t[k] or { t[k] }
		for _, v in ipairs(values) do
			if kind == "s" then
				out[#out + 1] = varint(num << 3 | 2) .. varint(#v) .. v
			elseif kind == "m" then
				local body = write_message(sub_shape, v)
				out[#out + 1] = varint(num << 3 | 2) .. varint(#body) .. body
			elseif kind == "b" then
				out[#out + 1] = varint(num << 3) .. varint(v and 1 or 0)
			else
				out[#out + 1] = varint(num << 3) .. varint(v)
			end
		end
	end
	return concat(out)
end

--- Loads descriptor.proto's types into pb (done when this module loads;
--- again after pb.clear()).
function Parser.reload()
	local p = Parser.new()
	p.bootstrap = true
	local file = p:parse(Parser.descriptor_text, "google/protobuf/descriptor.proto")
	local bytes = write_message("FileDescriptorSet", { file = { file } })
	assert(pb.load(bytes), "load descriptor msg failed")
end

---------------------------------------------------------------------------
-- Compiling and loading

local function compile_set(self, parse, arg, name)
	if self.include_imports then
		local old = self.on_import
		local files, seen = {}, {}
		self.on_import = function(info)
			if seen[info] then
				return
			end
			seen[info] = true
			files[#files + 1] = info
			if old then
				old(info)
			end
		end
		local ok, r = pcall(parse, self, arg, name)
		self.on_import = old
		if not ok then
			error(r, 0)
		end
		files[#files + 1] = r
		return { file = files }
	end
	return { file = { parse(self, arg, name) } }
end

--- The FileDescriptorSet (bytes) of `src`, the text of file `name`.
function Parser:compile(src, name)
	if self == Parser then
		self = Parser.new()
	end
	return pb.encode(".google.protobuf.FileDescriptorSet", compile_set(self, self.parse, src, name))
end

--- The FileDescriptorSet (bytes) of the file `name`, found on the paths.
function Parser:compilefile(name)
	if self == Parser then
		self = Parser.new()
	end
	return pb.encode(".google.protobuf.FileDescriptorSet", compile_set(self, self.parsefile, name))
end

--- Compiles `src` and loads it into pb: true and the bytes read.
function Parser:load(src, name)
	if self == Parser then
		self = Parser.new()
	end
	local ok, pos = pb.load(self:compile(src, name))
	if ok then
		return ok, pos
	end
	error("load failed at offset " .. tostring(pos), 0)
end

--- Compiles the file `name` and loads it into pb.
function Parser:loadfile(name)
	if self == Parser then
		self = Parser.new()
	end
	local ok, pos = pb.load(self:compilefile(name))
	if ok then
		return ok, pos
	end
	error("load failed at offset " .. tostring(pos), 0)
end

Parser.reload()

return Parser
