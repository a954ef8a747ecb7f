-- skynet.lua for skyhold: the skynet service API over skyhold's skynet.core.
--
-- Each service runs its handlers in coroutines: a request gets a coroutine,
-- a call suspends it until the reply (or an error) arrives, sleep and wait
-- suspend it until a timer or a wakeup. The runtime (skynet.core, in Rust)
-- stamps sources, checks replies against calls and slows a sender whose
-- share of a mailbox is full; this file keeps skynet's semantics on top.

local c = require "skynet.core"

local assert, error, pairs, select, tostring, type, setmetatable =
	assert, error, pairs, select, tostring, type, setmetatable
local co_create_raw, co_resume, co_yield, co_running, co_close, co_yieldable =
	coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.close, coroutine.isyieldable
local table_unpack, string_format = table.unpack, string.format
local c_send, c_tostring = c.send, c.tostring

local skynet = {
	PTYPE_TEXT = 0, PTYPE_RESPONSE = 1, PTYPE_MULTICAST = 2, PTYPE_CLIENT = 3,
	PTYPE_SYSTEM = 4, PTYPE_HARBOR = 5, PTYPE_SOCKET = 6, PTYPE_ERROR = 7,
	PTYPE_QUEUE = 8, PTYPE_DEBUG = 9, PTYPE_LUA = 10, PTYPE_SNAX = 11, PTYPE_TRACE = 12,
}
local PTYPE_RESPONSE, PTYPE_ERROR, PTYPE_TRACE = 1, 7, 12

local proto = {}

-- pack, packstring and unpack report failure in their results (they are on
-- every message's path); raise it here as a string.
local c_pack, c_unpack, ERR = c.pack, c.unpack, c.ERR

function skynet.pack(...)
	local msg, sz = c_pack(...)
	if msg == nil then
		error(sz, 0)
	end
	return msg, sz
end

function skynet.packstring(...)
	local msg, err = c_pack(...)
	if msg == nil then
		error(err, 0)
	end
	return msg
end

local function unpacked(...)
	if ... == ERR then
		error((select(2, ...)), 0)
	end
	return ...
end

function skynet.unpack(msg, sz)
	return unpacked(c_unpack(msg, sz))
end

skynet.tostring = c.tostring
skynet.trash = c.trash
skynet.now = c.now
skynet.hpc = c.hpc
skynet.genid = c.genid
skynet.identity = c.identity

-- Coroutine bookkeeping -----------------------------------------------------

local waiting = {}        -- session -> coroutine waiting for it (or "BREAK")
local watching = {}       -- session -> address a call went to
local req_session = {}    -- coroutine -> session of the request it handles
local req_source = {}     -- coroutine -> source of that request
local unresponse = {}     -- pending response closure -> address
local sleeping = {}       -- token -> session of a sleep or wait
local wakeup_queue = {}
local error_queue = {}
local fork_queue = { h = 1, t = 0 }
local room_waiters = {}   -- address -> coroutines waiting for room there
local pool, pool_n = {}, 0
local trace_next = nil

local suspend

-- The framework coroutine being run: set whenever the dispatcher resumes one.
-- A coroutine made with skynet.coroutine runs inside it, so bookkeeping is
-- keyed by this, not by coroutine.running().
local running_thread

local function resume(co, ...)
	running_thread = co
	return co_resume(co, ...)
end

local function finished(co)
	local session = req_session[co]
	if session and session ~= 0 then
		c.error(string_format("Maybe forgot response session %s from %s", session, skynet.address(req_source[co])))
	end
	req_session[co] = nil
	req_source[co] = nil
end

-- A pooled coroutine runs one task, parks itself, and is handed the next.
local function co_main(f)
	while true do
		f(co_yield())
		local co = co_running()
		finished(co)
		pool_n = pool_n + 1
		pool[pool_n] = co
		f = co_yield("EXIT")
	end
end

local function co_create(f)
	local co
	if pool_n > 0 then
		co = pool[pool_n]
		pool[pool_n] = nil
		pool_n = pool_n - 1
	else
		co = co_create_raw(co_main)
	end
	co_resume(co, f)
	return co
end

local function wake_errors()
	local session = table.remove(error_queue, 1)
	if session then
		local co = waiting[session]
		waiting[session] = nil
		if type(co) == "thread" then
			return suspend(co, resume(co, false))
		end
		return wake_errors()
	end
end

local function dispatch_wakeup()
	local token = table.remove(wakeup_queue, 1)
	if token then
		local session = sleeping[token]
		if session then
			local co = waiting[session]
			waiting[session] = "BREAK"
			return suspend(co, resume(co, false, "BREAK", nil, session))
		end
		return dispatch_wakeup()
	end
	return wake_errors()
end

local function traceback(co, msg)
	if c.traceback then
		return c.traceback(co, msg)
	end
	return msg
end

function suspend(co, ok, command)
	if not ok then
		local session = req_session[co]
		if session then
			if session ~= 0 then
				c_send(req_source[co], PTYPE_ERROR, session, "")
			end
			req_session[co] = nil
			req_source[co] = nil
		end
		-- The error ends this dispatch before the wakeups it may have queued
		-- run; a no-op fork makes them run in this dispatch.
		skynet.fork(function() end)
		local tb = traceback(co, tostring(command))
		-- Run the coroutine's to-be-closed variables.
		co_close(co)
		error(tb)
	end
	if command == "SUSPEND" or command == "EXIT" then
		return dispatch_wakeup()
	elseif command == "QUIT" then
		return
	elseif command == "USER" then
		error("Can't yield from a skynet coroutine")
	elseif command == nil then
		return
	else
		error("Unknown command : " .. tostring(command) .. "\n" .. traceback(co))
	end
end

-- Waiting for room -----------------------------------------------------------
-- The runtime refuses a send when the sender's share of the target's mailbox
-- is full and tells the service when there is room again. The sending
-- coroutine waits meanwhile; later sends to the same target queue behind it,
-- so one service's messages to one target keep their order.

local function wait_room(addr)
	if not co_yieldable() then
		error("mailbox of " .. skynet.address(addr) .. " is full for this service")
	end
	local q = room_waiters[addr]
	if not q then
		q = {}
		room_waiters[addr] = q
	end
	q[#q + 1] = running_thread
	co_yield("SUSPEND")
end

-- Sends with `raw` (c.send or c.redirect), waiting for room as needed.
local function send_via(raw, addr, ...)
	if room_waiters[addr] then
		wait_room(addr)
	end
	while true do
		local r, why, err = raw(addr, ...)
		if why == nil then
			return r
		elseif why == "ERROR" then
			error(err, 0)
		end
		wait_room(addr)
	end
end

local function send(addr, id, session, msg, sz)
	return send_via(c_send, addr, id, session, msg, sz)
end

local function on_room(addr)
	local q = room_waiters[addr]
	if q then
		room_waiters[addr] = nil
		for i = 1, #q do
			local co = q[i]
			suspend(co, resume(co))
		end
	end
end

-- Protocols --------------------------------------------------------------------

function skynet.register_protocol(class)
	local name, id = class.name, class.id
	assert(type(name) == "string" and type(id) == "number" and id >= 0 and id <= 255, "invalid protocol")
	assert(proto[name] == nil and proto[id] == nil, "protocol already registered: " .. name)
	proto[name] = class
	proto[id] = class
end

function skynet.dispatch(typename, func)
	local p = proto[typename]
	if func then
		local old = p.dispatch
		p.dispatch = func
		return old
	end
	return p and p.dispatch
end

local function unknown_request(session, address, msg, sz, prototype)
	c.error(string_format("Unknown request (%s): %s", prototype, c_tostring(msg, sz)))
	error(string_format("Unknown session : %d from %x", session, address))
end

function skynet.dispatch_unknown_request(f)
	local old = unknown_request
	unknown_request = f
	return old
end

local function unknown_response(session, address, msg, sz)
	c.error(string_format("Response message : %s", c_tostring(msg, sz)))
	error(string_format("Unknown session : %d from %x", session, address))
end

function skynet.dispatch_unknown_response(f)
	local old = unknown_response
	unknown_response = f
	return old
end

-- Addresses ----------------------------------------------------------------------

function skynet.address(addr)
	if type(addr) == "number" then
		return string_format(":%08x", addr)
	end
	return tostring(addr)
end

local self_handle
function skynet.self()
	self_handle = self_handle or c.self()
	return self_handle
end

function skynet.localname(name)
	return c.query(name)
end

function skynet.harbor(addr)
	return c.harbor(addr)
end

-- Sending and calling ----------------------------------------------------------

function skynet.send(addr, typename, ...)
	local p = proto[typename]
	return send(addr, p.id, 0, p.pack(...))
end

function skynet.rawsend(addr, typename, msg, sz)
	local p = proto[typename]
	return send(addr, p.id, 0, msg, sz)
end

local function yield_call(addr, session)
	watching[session] = addr
	waiting[session] = running_thread
	local ok, msg, sz = co_yield("SUSPEND")
	watching[session] = nil
	if not ok then
		error("call failed")
	end
	return msg, sz
end

function skynet.call(addr, typename, ...)
	local tag = trace_next
	trace_next = nil
	local p = proto[typename]
	if tag then
		c.trace_send(addr, tag)
	end
	local session = send(addr, p.id, nil, p.pack(...))
	if session == nil then
		error("call to invalid address " .. skynet.address(addr))
	end
	return p.unpack(yield_call(addr, session))
end

function skynet.rawcall(addr, typename, msg, sz)
	local p = proto[typename]
	local session = assert(send(addr, p.id, nil, msg, sz), "call to invalid address")
	return yield_call(addr, session)
end

function skynet.redirect(dest, source, typename, session, msg, sz)
	local id = type(typename) == "number" and typename or proto[typename].id
	return send_via(c.redirect, dest, source, id, session, msg, sz)
end

function skynet.ret(msg, sz)
	msg = msg or ""
	local co = running_thread
	local session = req_session[co]
	if session == nil then
		error("No session")
	end
	req_session[co] = nil
	if session == 0 then
		return false
	end
	local addr = req_source[co]
	local r = c_send(addr, PTYPE_RESPONSE, session, msg, sz)
	if r then
		return true
	elseif r == false then
		c_send(addr, PTYPE_ERROR, session, "")
	end
	return false
end

function skynet.retpack(...)
	return skynet.ret(skynet.pack(...))
end

function skynet.ignoreret()
	req_session[running_thread] = nil
end

function skynet.context()
	local co = running_thread
	return req_session[co], req_source[co]
end

function skynet.response(pack)
	pack = pack or skynet.pack
	local co = running_thread
	local session = assert(req_session[co], "no session")
	req_session[co] = nil
	local addr = req_source[co]
	if session == 0 then
		return function() end
	end
	local function response(ok, ...)
		if ok == "TEST" then
			return unresponse[response] ~= nil
		end
		if not pack then
			error("Can't response more than once")
		end
		local sent = false
		if unresponse[response] then
			local r
			if ok then
				r = c_send(addr, PTYPE_RESPONSE, session, pack(...))
				if r == false then
					c_send(addr, PTYPE_ERROR, session, "")
				end
			else
				r = c_send(addr, PTYPE_ERROR, session, "")
			end
			unresponse[response] = nil
			sent = r and true or false
		end
		pack = nil
		return sent
	end
	unresponse[response] = addr
	return response
end

-- Time -------------------------------------------------------------------------

function skynet.starttime()
	return c.starttime()
end

function skynet.time()
	return skynet.now() / 100 + c.starttime()
end

function skynet.timeout(ti, func)
	local session = c.timeout(ti)
	assert(session, "timeout refused")
	local co = co_create(function() func() end)
	waiting[session] = co
	return co
end

local function suspend_sleep(session, token)
	waiting[session] = running_thread
	sleeping[token] = session
	return co_yield("SUSPEND")
end

function skynet.sleep(ti, token)
	local session = c.timeout(ti)
	token = token or co_running()
	local ok, why = suspend_sleep(session, token)
	sleeping[token] = nil
	if ok then
		return
	end
	if why == "BREAK" then
		return "BREAK"
	end
	error(why)
end

function skynet.yield()
	return skynet.sleep(0)
end

function skynet.wait(token)
	local session = c.genid()
	token = token or co_running()
	suspend_sleep(session, token)
	sleeping[token] = nil
	waiting[session] = nil
end

function skynet.wakeup(token)
	if sleeping[token] then
		wakeup_queue[#wakeup_queue + 1] = token
		return true
	end
end

function skynet.fork(func, ...)
	local n = select("#", ...)
	local co
	if n == 0 then
		co = co_create(func)
	else
		local args = { ... }
		co = co_create(function() func(table_unpack(args, 1, n)) end)
	end
	local t = fork_queue.t + 1
	fork_queue.t = t
	fork_queue[t] = co
	return co
end

function skynet.killthread(target)
	local co = target
	if type(target) == "string" then
		for session, w in pairs(waiting) do
			if type(w) == "thread" and tostring(w):find(target, 1, true) then
				co = w
				break
			end
		end
	end
	if type(co) ~= "thread" then
		return
	end
	for session, w in pairs(waiting) do
		if w == co then
			waiting[session] = nil
			watching[session] = nil
		end
	end
	for i = fork_queue.h, fork_queue.t do
		if fork_queue[i] == co then
			fork_queue[i] = co_create(function() end)
		end
	end
	local session = req_session[co]
	if session and session ~= 0 then
		c_send(req_source[co], PTYPE_ERROR, session, "")
	end
	req_session[co] = nil
	req_source[co] = nil
	co_close(co)
	return co
end

-- Dispatch -----------------------------------------------------------------------

local function raw_dispatch(prototype, msg, sz, session, source)
	if prototype == PTYPE_RESPONSE then
		local co = waiting[session]
		if co == "BREAK" then
			waiting[session] = nil
		elseif co == nil then
			unknown_response(session, source, msg, sz)
		else
			waiting[session] = nil
			return suspend(co, resume(co, true, msg, sz, session))
		end
		return
	end
	local p = proto[prototype]
	local f = p and p.dispatch
	if f then
		local co = co_create(f)
		req_session[co] = session
		req_source[co] = source
		return suspend(co, resume(co, session, source, p.unpack(msg, sz)))
	elseif prototype == PTYPE_TRACE then
		trace_next = c_tostring(msg, sz)
	else
		if session ~= 0 then
			c_send(source, PTYPE_ERROR, session, "")
		end
		unknown_request(session, source, msg, sz, prototype)
	end
end

function skynet.dispatch_message(...)
	local ok, err = pcall(raw_dispatch, ...)
	while true do
		local h = fork_queue.h
		if h > fork_queue.t then
			if h > 1 then
				fork_queue = { h = 1, t = 0 }
			end
			break
		end
		local co = fork_queue[h]
		fork_queue[h] = nil
		fork_queue.h = h + 1
		local fok, ferr = pcall(suspend, co, resume(co))
		if not fok then
			if ok then
				ok, err = false, tostring(ferr)
			else
				err = tostring(err) .. "\n" .. tostring(ferr)
			end
		end
	end
	if not ok then
		error(err, 0)
	end
end

local function on_room_message(addr)
	local ok, err = pcall(on_room, addr)
	if not ok then
		error(err, 0)
	end
end

-- Used by skynet.manager's forward_type and filter, which install their own
-- dispatcher.
skynet.room_handler = on_room_message

-- Errors from other services ------------------------------------------------------

local function error_dispatch(error_session, error_source)
	skynet.ignoreret()
	if error_session == 0 then
		-- error_source is gone: forget replies owed to it, fail calls to it.
		for resp, addr in pairs(unresponse) do
			if addr == error_source then
				unresponse[resp] = nil
			end
		end
		for session, addr in pairs(watching) do
			if addr == error_source then
				error_queue[#error_queue + 1] = session
			end
		end
	elseif watching[error_session] then
		error_queue[#error_queue + 1] = error_session
	end
end

function skynet.term(addr)
	return error_dispatch(0, addr)
end

-- Environment, logging, control ----------------------------------------------------

function skynet.getenv(key)
	return c.getenv(key)
end

function skynet.setenv(key, value)
	assert(c.setenv(key, value), "Can't setenv exist key")
end

function skynet.error(...)
	local n = select("#", ...)
	local parts = { ... }
	for i = 1, n do
		parts[i] = tostring(parts[i])
	end
	c.error(table.concat(parts, " ", 1, n))
end

function skynet.tracelog(tag, text)
	c.error(string_format("<TRACE %s> %d %s", tostring(tag), c.hpc(), tostring(text)))
end

function skynet.trace(info)
	trace_next = info or string_format(":%08x-%d", skynet.self(), c.genid())
	return trace_next
end

function skynet.tracetag()
	return trace_next
end

function skynet.memlimit(bytes)
	c.memlimit(bytes)
end

function skynet.mqlen()
	return c.stat("mqlen")
end

function skynet.stat(what)
	return c.stat(what)
end

function skynet.endless()
	return c.stat("endless") == 1
end

function skynet.task(ret)
	if ret == nil then
		local n = 0
		for _, w in pairs(waiting) do
			if type(w) == "thread" then
				n = n + 1
			end
		end
		return n
	end
	if type(ret) == "table" then
		for session, w in pairs(waiting) do
			if type(w) == "thread" then
				ret[session] = traceback(w)
			end
		end
		return
	end
	if type(ret) == "number" then
		local w = waiting[ret]
		return type(w) == "thread" and traceback(w) or nil
	end
	if type(ret) == "thread" then
		for session, w in pairs(waiting) do
			if w == ret then
				return session
			end
		end
	end
end

function skynet.exit()
	fork_queue = { h = 1, t = 0 }
	skynet.send(".launcher", "lua", "REMOVE", skynet.self(), false)
	-- Requests being handled and replies still owed get an error; the
	-- runtime also answers any request still queued and tells the services
	-- this one was calling that it is gone.
	for co, session in pairs(req_session) do
		if session ~= 0 then
			c_send(req_source[co], PTYPE_ERROR, session, "")
		end
	end
	for resp in pairs(unresponse) do
		resp(false)
	end
	local current = running_thread
	for session, w in pairs(waiting) do
		if type(w) == "thread" and w ~= current then
			co_close(w)
		end
	end
	c.exit()
	co_yield("QUIT")
end

-- Start ------------------------------------------------------------------------

local init_funcs = {}

function skynet.init(f)
	assert(type(f) == "function")
	if init_funcs then
		init_funcs[#init_funcs + 1] = f
	else
		f()
	end
end

function skynet.init_service(start)
	local function main()
		local funcs = init_funcs
		init_funcs = nil
		for i = 1, #funcs do
			funcs[i]()
		end
		start()
	end
	local ok, err = xpcall(main, function(e) return traceback(co_running(), tostring(e)) end)
	if not ok then
		skynet.error("init service failed: " .. tostring(err))
		skynet.send(".launcher", "lua", "ERROR")
		skynet.exit()
	else
		skynet.send(".launcher", "lua", "LAUNCHOK")
	end
end

function skynet.start(start_func)
	c.callback(skynet.dispatch_message, on_room_message)
	skynet.timeout(0, function()
		skynet.init_service(start_func)
	end)
end

-- Services ------------------------------------------------------------------------

function skynet.newservice(name, ...)
	return skynet.call(".launcher", "lua", "LAUNCH", "snlua", name, ...)
end

function skynet.uniqueservice(global, ...)
	if global == true then
		return assert(skynet.call(".service", "lua", "GLAUNCH", ...))
	end
	return assert(skynet.call(".service", "lua", "LAUNCH", global, ...))
end

function skynet.queryservice(global, ...)
	if global == true then
		return assert(skynet.call(".service", "lua", "GQUERY", ...))
	end
	return assert(skynet.call(".service", "lua", "QUERY", global, ...))
end

-- Fan-out calls: skynet.request{addr, name, ...}{...}:select(timeout) ------------

local request_meta = {}
request_meta.__index = request_meta

function skynet.request(obj)
	local r = setmetatable({}, request_meta)
	if obj then
		return r:add(obj)
	end
	return r
end

function request_meta:add(obj)
	assert(type(obj) == "table" and not self._thread, "request already selected")
	self[#self + 1] = obj
	return self
end
request_meta.__call = request_meta.add

function request_meta:close()
	-- Late replies are ignored once the select loop has ended.
	self._thread = false
end
request_meta.__close = request_meta.close

function request_meta:select(timeout)
	assert(self._thread == nil, "select can be called once")
	local thread = co_running()
	self._thread = thread
	local queue = {}
	local outstanding = #self
	local function arrived(req, resp)
		if self._thread == thread then
			queue[#queue + 1] = { req, resp }
			skynet.wakeup(thread)
		end
	end
	for i = 1, #self do
		local req = self[i]
		skynet.fork(function()
			local r = table.pack(pcall(skynet.call, req[1], req[2], table_unpack(req, 3, #req)))
			if r[1] then
				arrived(req, table.pack(table_unpack(r, 2, r.n)))
			else
				arrived(req, false)
			end
		end)
	end
	if timeout then
		skynet.fork(function()
			skynet.sleep(timeout)
			if self._thread == thread then
				self.timeout = true
				skynet.wakeup(thread)
			end
		end)
	end
	return function()
		while true do
			local item = table.remove(queue, 1)
			if item then
				outstanding = outstanding - 1
				return item[1], item[2]
			end
			if outstanding == 0 or self.timeout then
				self._thread = false
				return
			end
			skynet.wait(thread)
		end
	end
end

-- Built-in protocols ------------------------------------------------------------------

skynet.register_protocol { name = "lua", id = skynet.PTYPE_LUA, pack = skynet.pack, unpack = skynet.unpack }
skynet.register_protocol { name = "response", id = PTYPE_RESPONSE }
skynet.register_protocol {
	name = "error",
	id = PTYPE_ERROR,
	unpack = function(...) return ... end,
	dispatch = error_dispatch,
}
-- The debug protocol's handler is loaded the first time it is needed, so a
-- service that is never inspected does not pay for it.
skynet.register_protocol {
	name = "debug",
	id = skynet.PTYPE_DEBUG,
	pack = skynet.pack,
	unpack = skynet.unpack,
	dispatch = function(...)
		return require("skynet.debug").dispatch(...)
	end,
}

function skynet.info_func(f)
	return require("skynet.debug").info_func(f)
end

return skynet
