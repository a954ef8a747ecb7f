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
local co_yield, co_running, co_yieldable = coroutine.yield, coroutine.running, coroutine.isyieldable
-- Every framework suspension (a call, a sleep, a wait, room, a socket read)
-- yields through `suspend`: coroutine.yield, unless skynet.profile counts
-- only running time and puts its own in (skynet.set_framework_yield).
local suspend = co_yield
local table_unpack, string_format = table.unpack, string.format
local c_send = c.send

-- skynet.PTYPE_* are set the first time they are read (`lazy_field` at the
-- end of this file): with them the table would need twice the slots.
-- The fields this file defines are named here, so the table is made with
-- room for all of them at once (a constructor sizes its table by the
-- fields it names, and a nil is not stored): grown one field at a time,
-- it would be rebuilt six times in every service's boot.
local skynet = {
	pack = nil, packstring = nil, unpack = nil, register_protocol = nil, dispatch = nil,
	address = nil, self = nil, send = nil, call = nil, ret = nil, retpack = nil,
	ignoreret = nil, response = nil, timeout = nil, trace_timeout = nil, sleep = nil,
	framework_yield = nil, yield = nil, wait = nil, wakeup = nil, term = nil, getenv = nil,
	error = nil, exit = nil, init = nil, init_service = nil, start = nil, newservice = nil,
	uniqueservice = nil, queryservice = nil,
}
-- Constants (`<const>`) are compiled into the code that uses them: no
-- upvalue for them in every service's state.
local PTYPE_RESPONSE <const>, PTYPE_ERROR <const> = 1, 7

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

-- skynet.tostring, trash, now, hpc, genid, identity and fork are
-- skynet.core's own functions: see `lazy_field` at the end of this file.

-- Tasks -------------------------------------------------------------------------
-- Requests, replies, timers and forks are dispatched by the runtime
-- (skynet.core), which runs each request in a pooled coroutine and keeps the
-- bookkeeping. The functions below that wait yield to it: the first value
-- says what for.

-- The numbers are the runtime's (skynet.core.YIELD), compiled in as
-- constants and checked against it here, so the two cannot disagree.
local CALL <const>, SLEEP <const>, WAIT <const>, ROOM <const>, QUIT <const>, CALL_PACKED <const> =
	2, 4, 5, 6, 7, 9
do
	local YIELD = c.YIELD
	assert(YIELD.CALL == CALL and YIELD.SLEEP == SLEEP and YIELD.WAIT == WAIT and YIELD.ROOM == ROOM
		and YIELD.QUIT == QUIT and YIELD.CALL_PACKED == CALL_PACKED, "skynet.core.YIELD changed")
end
local c_sendv, c_ret, c_retpack = c.sendv, c.ret, c.retpack

local sleeping = {}       -- token -> session of a sleep or wait
local unresponse = {}     -- pending response closure -> address

-- Waiting for room -----------------------------------------------------------
-- The runtime refuses a send when the sender's share of the target's mailbox
-- is full (or when an earlier send of this service to it is still waiting).
-- It then holds the message and sends it when there is room, oldest first;
-- the sending coroutine waits meanwhile. So one service's messages to one
-- target keep their order, whichever of its coroutines sent them.

local function wait_room(addr)
	if not co_yieldable() then
		error("mailbox of " .. skynet.address(addr) .. " is full for this service")
	end
	return suspend(ROOM, addr)
end

-- After a send the runtime refused with `why` ("FULL" or "ERROR", and
-- `err`): raises, or waits until the held message is out and returns what
-- the send returns.
local function send_later(why, err, addr)
	if why == "ERROR" then
		error(err, 0)
	end
	local r, why_now, err_now = wait_room(addr)
	if why_now == "ERROR" then
		error(err_now, 0)
	end
	return r
end

local function send_via(raw, addr, ...)
	local r, why, err = raw(addr, ...)
	if why == nil then
		return r
	end
	return send_later(why, err, addr)
end

-- Protocols --------------------------------------------------------------------

-- Protocol name -> id for the protocols whose messages skynet.pack makes
-- (native_send), and whose replies skynet.unpack reads too (native_call):
-- their sends and calls are packed by the runtime. Noted when a protocol
-- is registered and whenever its handler is set.
local native_send, native_call = {}, {}

local function note_protocol(class)
	local name = class.name
	local packed = class.pack == skynet.pack
	native_send[name] = packed and class.id or nil
	native_call[name] = packed and class.unpack == skynet.unpack and class.id or nil
end

function skynet.register_protocol(class)
	local name, id = class.name, class.id
	assert(type(name) == "string" and type(id) == "number" and id >= 0 and id <= 255, "invalid protocol")
	assert(proto[name] == nil and proto[id] == nil, "protocol already registered: " .. name)
	proto[name] = class
	proto[id] = class
	c.proto(id, class)
	note_protocol(class)
end

function skynet.dispatch(typename, func)
	local p = proto[typename]
	if func then
		local old = p.dispatch
		p.dispatch = func
		c.proto(p.id, p)
		note_protocol(p)
		return old
	end
	return p and p.dispatch
end

local hooks = {}

function hooks.unknown_request(session, address, msg, sz, prototype)
	c.error(string_format("Unknown request (%s): %s", prototype, c.tostring(msg, sz)))
	error(string_format("Unknown session : %d from %x", session, address))
end

function hooks.unknown_response(session, address, msg, sz)
	c.error(string_format("Response message : %s", c.tostring(msg, sz)))
	error(string_format("Unknown session : %d from %x", session, address))
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

-- Sending and calling ----------------------------------------------------------

-- True for a global name (no leading "." or ":") that no service has yet:
-- calls and sends to it wait for it, as in skynet (skynet/globalname.lua).
local function unnamed_global(addr)
	if type(addr) ~= "string" then
		return false
	end
	local b = string.byte(addr, 1)
	return b ~= 46 and b ~= 58 and c.query(addr) == nil
end

function skynet.send(addr, typename, ...)
	local id = native_send[typename]
	if id then
		local r, why, err = c_sendv(addr, id, ...)
		if why == nil then
			if r == nil and unnamed_global(addr) then
				return require("skynet.globalname").send(addr, typename, ...)
			end
			return r
		end
		return send_later(why, err, addr)
	end
	local p = proto[typename]
	local r = send_via(c_send, addr, p.id, 0, p.pack(...))
	if r == nil and unnamed_global(addr) then
		return require("skynet.globalname").send(addr, typename, ...)
	end
	return r
end

local invalid

local function call_result(ok, ...)
	if ok then
		return ...
	end
	if ok == nil then
		error((...), 0)
	end
	error("call failed")
end

function invalid(addr)
	error("call to invalid address " .. skynet.address(addr))
end

-- A global name (no leading "." or ":") is resolved here, once: to its
-- handle, or, when no service has it yet, by waiting for one to register it.
local function global_handle(addr)
	local b = string.byte(addr, 1)
	if b == 46 or b == 58 then
		return addr
	end
	return c.query(addr) or require("skynet.globalname").wait(addr)
end

function skynet.call(addr, typename, ...)
	if type(addr) == "string" then
		addr = global_handle(addr)
	end
	local id = native_call[typename]
	if id then
		-- The runtime packs, sends (waiting for room if it must) and
		-- unpacks the reply.
		return call_result(suspend(CALL_PACKED, addr, id, ...))
	end
	local p = proto[typename]
	local session = send_via(c_send, addr, p.id, nil, p.pack(...))
	if session == nil then
		invalid(addr)
	end
	return p.unpack(call_result(suspend(CALL, session, addr)))
end

-- ret and retpack raise what the runtime reports (no request to answer, a
-- value that cannot be packed) from here, in one frame each: they are on
-- every request's path.
function skynet.ret(msg, sz)
	local r, err = c_ret(msg or "", sz)
	if r == nil then
		error(err)
	end
	return r
end

function skynet.retpack(...)
	local r, err = c_retpack(...)
	if r == nil then
		error(err)
	end
	return r
end

function skynet.ignoreret()
	c.take_request()
end

function skynet.response(pack)
	pack = pack or skynet.pack
	local session, addr = c.take_request()
	assert(session, "no session")
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

-- Timeouts not yet fired, by session, for skynet.task; and, while
-- skynet.trace_timeout is on, where each was set, by coroutine.
local pending_timeouts = {}
local timeout_traces

function skynet.timeout(ti, func)
	local co, session
	co, session = c.start_on_timer(ti, function(...)
		pending_timeouts[session] = nil
		if timeout_traces then
			timeout_traces[co] = nil
		end
		return func(...)
	end)
	pending_timeouts[session] = co
	if timeout_traces then
		-- Level 2: the trace starts at whoever set the timeout.
		timeout_traces[co] = debug.traceback(string_format("TIMER %d+%d : ", skynet.now(), ti), 2)
	end
	return co
end

function skynet.trace_timeout(on)
	if on then
		timeout_traces = timeout_traces or {}
	else
		timeout_traces = nil
	end
end

function skynet.sleep(ti, token)
	local session = c.timeout(ti)
	token = token or co_running()
	sleeping[token] = session
	local ok, why = suspend(SLEEP, session)
	sleeping[token] = nil
	if ok then
		return
	end
	if why == "BREAK" then
		return "BREAK"
	end
	error(why)
end

-- A framework suspension, for the modules outside this file (skynet.socket).
function skynet.framework_yield(...)
	return suspend(...)
end

function skynet.yield()
	return skynet.sleep(0)
end

function skynet.wait(token)
	local session = c.genid()
	token = token or co_running()
	sleeping[token] = session
	suspend(WAIT, session)
	sleeping[token] = nil
end

function skynet.wakeup(token)
	local session = sleeping[token]
	if session then
		return c.wakeup(session)
	end
end


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
	end
	c.fail_calls(error_session, error_source)
end

function skynet.term(addr)
	local waiting = package.loaded["skynet.globalname"]
	if waiting and type(addr) == "string" then
		waiting.term(addr)
	end
	return error_dispatch(0, addr)
end

-- Environment, logging, control ----------------------------------------------------

function skynet.getenv(key)
	return c.getenv(key)
end

-- As skynet's: every argument, trailing nils too, separated by spaces.
function skynet.error(...)
	local n = select("#", ...)
	local parts = { ... }
	for i = 1, n do
		parts[i] = tostring(parts[i])
	end
	c.error(table.concat(parts, " ", 1, n))
end

function skynet.exit()
	skynet.send(".launcher", "lua", "REMOVE", skynet.self(), false)
	-- Requests being handled and replies still owed get an error; the
	-- runtime also answers any request still queued and tells the services
	-- this one was calling that it is gone.
	c.exit_tasks()
	for resp in pairs(unresponse) do
		resp(false)
	end
	c.exit()
	co_yield(QUIT)
end

local function traceback(co, msg)
	if c.traceback then
		return c.traceback(co, msg)
	end
	return msg
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

-- The coroutine running the start function, until it returns (skynet.task("init")).
local init_thread

function skynet.start(start_func)
	init_thread = skynet.timeout(0, function()
		skynet.init_service(start_func)
		init_thread = nil
	end)
end

-- Services ------------------------------------------------------------------------

-- The launcher answers `nil, why` when the launch was refused (a limit of
-- the node: the spawn rate, the memory budget); raised here, as skynet
-- raises any failed newservice, but saying why.
function skynet.newservice(name, ...)
	local addr, why = skynet.call(".launcher", "lua", "LAUNCH", "snlua", name, ...)
	if addr == nil and why ~= nil then
		error(why, 0)
	end
	return addr
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

-- Built-in protocols ------------------------------------------------------------------

c.hooks(hooks, skynet.unpack)

skynet.register_protocol { name = "lua", id = 10, pack = skynet.pack, unpack = skynet.unpack }
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
	id = 9,
	pack = skynet.pack,
	unpack = skynet.unpack,
	dispatch = function(...)
		return require("skynet.debug").dispatch(...)
	end,
}

-- The fields of `skynet` set the first time they are read: skynet.core's
-- functions that are skynet's as they are (skynet.core builds each
-- function the first time it is asked for, and a service that never reads
-- these does not pay for them in its state), and the message types.
local function lazy_field(k)
	if k == "tostring" or k == "trash" or k == "now" or k == "hpc" or k == "genid"
		or k == "identity" or k == "fork" then
		return c[k]
	end
	-- The message types, skynet.PTYPE_*.
	if k == "PTYPE_TEXT" then return 0
	elseif k == "PTYPE_RESPONSE" then return 1
	elseif k == "PTYPE_MULTICAST" then return 2
	elseif k == "PTYPE_CLIENT" then return 3
	elseif k == "PTYPE_SYSTEM" then return 4
	elseif k == "PTYPE_HARBOR" then return 5
	elseif k == "PTYPE_SOCKET" then return 6
	elseif k == "PTYPE_ERROR" then return 7
	elseif k == "PTYPE_QUEUE" then return 8
	elseif k == "PTYPE_DEBUG" then return 9
	elseif k == "PTYPE_LUA" then return 10
	elseif k == "PTYPE_SNAX" then return 11
	elseif k == "PTYPE_TRACE" then return 12
	end
end

-- The rest of the API (skynet/less_used.lua) is loaded the first time a service
-- reads a field this file does not define.
setmetatable(skynet, {
	__index = function(t, k)
		local f = lazy_field(k)
		if f then
			rawset(t, k, f)
			return f
		end
		-- From here on the table has no metatable: every field is set.
		setmetatable(t, nil)
		for _, name in ipairs { "tostring", "trash", "now", "hpc", "genid", "identity", "fork" } do
			rawset(t, name, rawget(t, name) or lazy_field(name))
		end
		for _, name in ipairs { "TEXT", "RESPONSE", "MULTICAST", "CLIENT", "SYSTEM", "HARBOR", "SOCKET",
			"ERROR", "QUEUE", "DEBUG", "LUA", "SNAX", "TRACE" } do
			rawset(t, "PTYPE_" .. name, lazy_field("PTYPE_" .. name))
		end
		require("skynet.less_used")(skynet, c, {
			proto = proto,
			hooks = hooks,
			send_via = send_via,
			call_result = call_result,
			set_suspend = function(f)
				suspend = f or co_yield
			end,
			traceback = traceback,
			CALL = CALL,
			pending_timeouts = pending_timeouts,
			timeout_trace = function(co)
				return timeout_traces and timeout_traces[co]
			end,
			init_thread = function()
				return init_thread
			end,
		})
		return rawget(t, k)
	end,
})

return skynet
