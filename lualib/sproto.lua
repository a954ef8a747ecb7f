-- sproto's RPC layer, as skynet's lualib/sproto.lua offers it: a schema
-- object with typed encode/decode, and a host that frames requests and
-- responses under a "package" header type. The bytes come from the
-- native sproto.core.
local core = require "sproto.core"
local assert, setmetatable, tonumber, error = assert, setmetatable, tonumber, error

local sproto = {}
local host = {}

local weak = { __mode = "kv" }
local sproto_owned = { __index = sproto }
local sproto_shared = { __index = sproto }
local host_meta = { __index = host }

-- An object made by sproto.new owns its schema; a shared one (sharenew,
-- sprotoloader.load) does not.
function sproto_owned:__gc()
	core.deleteproto(self.__cobj)
end

local function wrap(cobj, meta)
	local self = {
		__cobj = cobj,
		__tcache = setmetatable({}, weak),
		__pcache = setmetatable({}, weak),
	}
	return setmetatable(self, meta)
end

function sproto.new(bin)
	return wrap(assert(core.newproto(bin)), sproto_owned)
end

function sproto.sharenew(cobj)
	return wrap(cobj, sproto_shared)
end

function sproto.parse(text)
	local parser = require "sprotoparser"
	return sproto.new(parser.parse(text))
end

function sproto:host(packagename)
	local obj = {
		__proto = self,
		__package = assert(core.querytype(self.__cobj, packagename or "package"), "type package not found"),
		__session = {},
	}
	return setmetatable(obj, host_meta)
end

local function querytype(self, typename)
	local st = self.__tcache[typename]
	if not st then
		st = assert(core.querytype(self.__cobj, typename), "type not found")
		self.__tcache[typename] = st
	end
	return st
end

function sproto:exist_type(typename)
	if self.__tcache[typename] then
		return true
	end
	return core.querytype(self.__cobj, typename) ~= nil
end

function sproto:encode(typename, tbl)
	return core.encode(querytype(self, typename), tbl)
end

function sproto:decode(typename, ...)
	return core.decode(querytype(self, typename), ...)
end

function sproto:pencode(typename, tbl)
	return core.pack(core.encode(querytype(self, typename), tbl))
end

function sproto:pdecode(typename, ...)
	return core.decode(querytype(self, typename), core.unpack(...))
end

-- A protocol by name or by tag: { request =, response =, name =, tag = },
-- cached under both.
local function queryproto(self, pname)
	local p = self.__pcache[pname]
	if p then
		return p
	end
	local found, req, resp = core.protocol(self.__cobj, pname)
	assert(found, pname .. " not found")
	local name, tag = pname, found
	if tonumber(pname) then
		name, tag = found, pname
	end
	p = { request = req, response = resp, name = name, tag = tag }
	self.__pcache[name] = p
	self.__pcache[tag] = p
	return p
end
sproto.queryproto = queryproto

function sproto:exist_proto(pname)
	if self.__pcache[pname] then
		return true
	end
	return core.protocol(self.__cobj, pname) ~= nil
end

function sproto:request_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.request then
		return core.encode(p.request, tbl), p.tag
	end
	return "", p.tag
end

function sproto:response_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.response then
		return core.encode(p.response, tbl)
	end
	return ""
end

function sproto:request_decode(protoname, ...)
	local p = queryproto(self, protoname)
	if p.request then
		return core.decode(p.request, ...), p.name
	end
	return nil, p.name
end

function sproto:response_decode(protoname, ...)
	local p = queryproto(self, protoname)
	if p.response then
		return core.decode(p.response, ...)
	end
end

sproto.pack = core.pack
sproto.unpack = core.unpack

function sproto:default(typename, kind)
	if kind == nil then
		return core.default(querytype(self, typename))
	end
	local p = queryproto(self, typename)
	if kind == "REQUEST" then
		if p.request then
			return core.default(p.request)
		end
	elseif kind == "RESPONSE" then
		if p.response then
			return core.default(p.response)
		end
	else
		error "Invalid type"
	end
end

-- The header table is reused for every message, as skynet does.
local header = {}

local function responder(self, response, session)
	return function(args, ud)
		header.type = nil
		header.session = session
		header.ud = ud
		local head = core.encode(self.__package, header)
		if response then
			return core.pack(head .. core.encode(response, args))
		end
		return core.pack(head)
	end
end

function host:dispatch(...)
	local bin = core.unpack(...)
	header.type = nil
	header.session = nil
	header.ud = nil
	local head, size = core.decode(self.__package, bin, header)
	local content = bin:sub(size + 1)
	if head.type then
		local p = queryproto(self.__proto, head.type)
		local args
		if p.request then
			args = core.decode(p.request, content)
		end
		if header.session then
			return "REQUEST", p.name, args, responder(self, p.response, header.session), head.ud
		end
		return "REQUEST", p.name, args, nil, head.ud
	end
	local session = assert(header.session, "session not found")
	local response = assert(self.__session[session], "Unknown session")
	self.__session[session] = nil
	if response == true then
		return "RESPONSE", session, nil, head.ud
	end
	return "RESPONSE", session, core.decode(response, content), head.ud
end

function host:attach(sp)
	return function(name, args, session, ud)
		local p = queryproto(sp, name)
		header.type = p.tag
		header.session = session
		header.ud = ud
		local head = core.encode(self.__package, header)
		if session then
			self.__session[session] = p.response or true
		end
		if p.request then
			return core.pack(head .. core.encode(p.request, args))
		end
		return core.pack(head)
	end
end

return sproto
