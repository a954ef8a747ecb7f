-- skynet.dns for skyhold: an asynchronous DNS resolver over a UDP socket,
-- with skynet's API.
--
--   dns.server([address [, port]])  the name server to ask (default: the
--                                   first nameserver of /etc/resolv.conf,
--                                   port 53)
--   dns.resolve(name [, ipv6])      -> address, { every address }
--                                   or nil, why
--   dns.flush()                     forget cached answers and /etc/hosts
--
-- /etc/hosts is looked at first. The two resolver files are read through
-- the built-in module `skyhold.resolver`, which reads exactly these two
-- files (read-only, at most 64 KiB each) and nothing else: a sandboxed
-- service has no io.open of its own. Answers are cached for their TTL.
-- Replies are parsed with every length and pointer checked; a malformed
-- reply is dropped (and logged), never trusted.
local skynet = require "skynet"
local socket = require "skynet.socket"
local files = require "skyhold.resolver"

local string, table = string, table
local tonumber, tostring, error, pcall = tonumber, tostring, error, pcall

local MAX_NAME = 253
local MAX_LABEL = 63
local MAX_PACKET = 2048
local TIMEOUT = 3000   -- centiseconds a query may wait for its answer
local MAX_PENDING = 256

local QTYPE_A, QTYPE_AAAA = 1, 28
local QCLASS_IN = 1

local dns = {}

dns.DEFAULT_HOSTS = "/etc/hosts"
dns.DEFAULT_RESOLV_CONF = "/etc/resolv.conf"

local cache = {}        -- qtype -> name -> { addresses, expires }
local hosts             -- name -> { ipv4 = {...}, ipv6 = {...} }
local server            -- { address, port }
local udp               -- the socket, once open
local pending = {}      -- tid -> { co, name, qtype, answer }
local pending_count = 0

local function name_kind(name)
	if name:match("^[%d%.]+$") then
		return "ipv4"
	elseif name:find(":", 1, true) then
		return "ipv6"
	end
	return "hostname"
end

local function load_hosts()
	local rts = {}
	local text = files.hosts()
	if not text then
		return rts
	end
	for line in text:gmatch("[^\n]+") do
		local ip, names = line:match("^%s*([%x%.:]+)%s+([^#;]+)")
		if ip then
			local family = name_kind(ip)
			if family ~= "hostname" then
				for h in names:gmatch("%S+") do
					h = h:lower()
					local rt = rts[h] or {}
					rts[h] = rt
					rt[family] = rt[family] or {}
					table.insert(rt[family], ip)
				end
			end
		end
	end
	return rts
end

local function default_server()
	local text = files.resolv_conf()
	if text then
		for line in text:gmatch("[^\n]+") do
			local ns = line:match("^%s*nameserver%s+([%x%.:]+)")
			if ns then
				return ns
			end
		end
	end
	return nil
end

function dns.flush()
	cache = {}
	hosts = nil
end

local function valid_name(name)
	if #name > MAX_NAME or name:find("^%.") or name:find("%.%.") then
		return false
	end
	for label in name:gmatch("[^%.]+") do
		if #label > MAX_LABEL or not label:match("^[%w%-_]+$") then
			return false
		end
	end
	return true
end

-- A query: header (id, recursion desired, one question) and the question.
local function pack_query(tid, name, qtype)
	local parts = { string.pack(">I2I2I2I2I2I2", tid, 0x0100, 1, 0, 0, 0) }
	for label in name:gmatch("[^%.]+") do
		parts[#parts + 1] = string.pack("s1", label)
	end
	parts[#parts + 1] = string.pack(">BI2I2", 0, qtype, QCLASS_IN)
	return table.concat(parts)
end

-- Reads a (possibly compressed) name at `pos`: the name and the position
-- after it. Raises on anything out of bounds or looping.
local function read_name(msg, pos)
	local labels, after, hops = {}, nil, 0
	while true do
		local len = msg:byte(pos)
		if not len then
			error("name runs past the packet")
		end
		if len == 0 then
			pos = pos + 1
			break
		elseif len & 0xC0 == 0xC0 then
			local lo = msg:byte(pos + 1)
			if not lo then
				error("truncated pointer")
			end
			hops = hops + 1
			if hops > 32 then
				error("pointer loop")
			end
			after = after or pos + 2
			pos = ((len & 0x3F) << 8 | lo) + 1
		elseif len > MAX_LABEL then
			error("bad label length")
		else
			if pos + len > #msg then
				error("label runs past the packet")
			end
			labels[#labels + 1] = msg:sub(pos + 1, pos + len)
			pos = pos + len + 1
			if #labels > 128 then
				error("name too long")
			end
		end
	end
	return table.concat(labels, "."), after or pos
end

local function ip_of(qtype, rdata)
	if qtype == QTYPE_A and #rdata == 4 then
		return string.format("%d.%d.%d.%d", rdata:byte(1, 4))
	elseif qtype == QTYPE_AAAA and #rdata == 16 then
		local w = { string.unpack(">I2I2I2I2I2I2I2I2", rdata) }
		w[9] = nil
		for i = 1, 8 do
			w[i] = string.format("%x", w[i])
		end
		return table.concat(w, ":")
	end
end

-- Parses a reply: tid, { addresses }, ttl (or raises).
local function parse_reply(msg)
	if #msg < 12 or #msg > MAX_PACKET then
		error("bad packet size")
	end
	local tid, flags, qd, an = string.unpack(">I2I2I2I2", msg)
	if flags & 0x8000 == 0 then
		error("not a reply")
	end
	local rcode = flags & 0x0F
	local pos = 13
	local qname, qtype
	for _ = 1, qd do
		qname, pos = read_name(msg, pos)
		if pos + 3 > #msg then
			error("truncated question")
		end
		qtype = string.unpack(">I2", msg, pos)
		pos = pos + 4
	end
	local answers, ttl = {}, nil
	for _ = 1, an do
		local _, p = read_name(msg, pos)
		if p + 9 > #msg then
			error("truncated answer")
		end
		local atype, class, attl, rdlen = string.unpack(">I2I2I4I2", msg, p)
		p = p + 10
		if p + rdlen - 1 > #msg then
			error("rdata runs past the packet")
		end
		if class == QCLASS_IN and (atype == QTYPE_A or atype == QTYPE_AAAA) then
			local ip = ip_of(atype, msg:sub(p, p + rdlen - 1))
			if ip then
				answers[#answers + 1] = ip
				ttl = ttl and math.min(ttl, attl) or attl
			end
		end
		pos = p + rdlen
	end
	return tid, qname, qtype, rcode, answers, ttl or 0
end

local function on_reply(data)
	local ok, tid, qname, qtype, rcode, answers, ttl = pcall(parse_reply, data)
	if not ok then
		skynet.error("Recv an invalid package when dns query: " .. tostring(tid))
		return
	end
	local req = pending[tid]
	if not req or (qname and qname:lower() ~= req.name) or (qtype and qtype ~= req.qtype) then
		return
	end
	pending[tid] = nil
	pending_count = pending_count - 1
	if rcode == 0 and #answers > 0 then
		req.answers = answers
		local c = cache[req.qtype] or {}
		cache[req.qtype] = c
		c[req.name] = { answers = answers, expires = skynet.now() + ttl * 100 }
	else
		req.why = rcode == 0 and "no address" or ("dns error " .. rcode)
	end
	skynet.wakeup(req.co)
end

function dns.server(address, port)
	if not address then
		address = default_server()
		if not address then
			error("no nameserver in " .. dns.DEFAULT_RESOLV_CONF)
		end
	end
	server = { address = address, port = port or 53 }
	if udp then
		socket.close(udp)
		udp = nil
	end
	return address, server.port
end

local function open_socket()
	if not server then
		dns.server()
	end
	if not udp then
		udp = socket.udp(function(data)
			on_reply(data)
		end)
		socket.udp_connect(udp, server.address, server.port)
	end
	return udp
end

local function new_tid()
	for _ = 1, 16 do
		local tid = math.random(0, 0xFFFF)
		if not pending[tid] then
			return tid
		end
	end
end

local function query(name, qtype)
	local c = cache[qtype] and cache[qtype][name]
	if c and c.expires > skynet.now() then
		return c.answers
	end
	if pending_count >= MAX_PENDING then
		return nil, "too many dns queries"
	end
	local fd = open_socket()
	local tid = new_tid()
	if not tid then
		return nil, "too many dns queries"
	end
	local req = { co = coroutine.running(), name = name, qtype = qtype }
	pending[tid] = req
	pending_count = pending_count + 1
	socket.write(fd, pack_query(tid, name, qtype))
	skynet.sleep(TIMEOUT, req.co)
	if pending[tid] == req then
		pending[tid] = nil
		pending_count = pending_count - 1
		skynet.error(string.format("DNS query %s timeout", name))
		return nil, "timeout"
	end
	if req.answers then
		return req.answers
	end
	return nil, req.why
end

function dns.resolve(name, ipv6)
	local kind = name_kind(name)
	if kind ~= "hostname" then
		-- an address already
		return name, { name }
	end
	name = name:lower()
	if not valid_name(name) then
		return nil, "illegal name"
	end
	hosts = hosts or load_hosts()
	local h = hosts[name]
	local family = ipv6 and "ipv6" or "ipv4"
	if h and h[family] then
		return h[family][1], h[family]
	end
	local answers, why = query(name, ipv6 and QTYPE_AAAA or QTYPE_A)
	if not answers then
		return nil, why
	end
	return answers[1], answers
end

-- for tests: the wire helpers
dns._pack_query = pack_query
dns._parse_reply = parse_reply

return dns
