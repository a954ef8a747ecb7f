-- The less used half of the skynet module, loaded into a service the first
-- time it reads a skynet.* field that skynet.lua itself does not define.
-- Every service pays memory for the code it loads, and most never touch
-- these: introspection, raw sends, fan-out requests, tracing, time helpers.
--
-- Not a module to require directly: skynet.lua calls the function this
-- returns with the skynet table, skynet.core and the internals it shares.
return function(skynet, c, inner)
	local assert, error, pairs, setmetatable, tostring, type =
		assert, error, pairs, setmetatable, tostring, type
	local co_running = coroutine.running
	local table_unpack = table.unpack
	local proto, hooks, send_via, call_result = inner.proto, inner.hooks, inner.send_via, inner.call_result
	local c_send, CALL = c.send, inner.CALL

	function skynet.dispatch_unknown_request(f)
		local old = hooks.unknown_request
		hooks.unknown_request = f
		return old
	end

	function skynet.dispatch_unknown_response(f)
		local old = hooks.unknown_response
		hooks.unknown_response = f
		return old
	end

	function skynet.localname(name)
		return c.query(name)
	end

	function skynet.harbor(addr)
		return c.harbor(addr)
	end

	function skynet.rawsend(addr, typename, msg, sz)
		return send_via(c_send, addr, proto[typename].id, 0, msg, sz)
	end

	-- For skynet.profile: `f` takes coroutine.yield's place in every
	-- framework suspension (skynet.lua's `suspend`); nil puts it back.
	function skynet.set_framework_yield(f)
		inner.set_suspend(f)
	end

	function skynet.rawcall(addr, typename, msg, sz)
		local session = assert(send_via(c_send, addr, proto[typename].id, nil, msg, sz), "call to invalid address")
		return call_result(skynet.framework_yield(CALL, session, addr))
	end

	function skynet.redirect(dest, source, typename, session, msg, sz)
		local id = type(typename) == "number" and typename or proto[typename].id
		return send_via(c.redirect, dest, source, id, session, msg, sz)
	end

	function skynet.context()
		return c.context()
	end

	function skynet.starttime()
		return c.starttime()
	end

	function skynet.time()
		return skynet.now() / 100 + c.starttime()
	end

	function skynet.killthread(target)
		local co = target
		if type(target) == "string" then
			co = nil
			for _, w in pairs(c.tasks()) do
				if tostring(w):find(target, 1, true) then
					co = w
					break
				end
			end
		end
		if type(co) ~= "thread" then
			return
		end
		c.killthread(co)
		return co
	end

	function skynet.setenv(key, value)
		assert(c.setenv(key, value), "Can't setenv exist key")
	end

	-- Tracing lives in the runtime: a traced task's calls send the tag
	-- ahead (PTYPE_TRACE), and the callee's task is traced under it.
	skynet.trace = c.trace
	skynet.tracetag = c.tracetag
	skynet.tracelog = c.tracelog

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

	local traceback = inner.traceback

	local pending_timeouts, timeout_trace = inner.pending_timeouts, inner.timeout_trace

	-- Every session this service waits on, with its coroutine: calls,
	-- sleeps and waits (kept by the runtime), and timeouts not yet fired.
	local function sessions()
		local all = c.tasks()
		for session, co in pairs(pending_timeouts) do
			all[session] = co
		end
		return all
	end

	-- A timeout set while trace_timeout was on shows where it was set.
	local function task_traceback(co)
		return timeout_trace(co) or traceback(co)
	end

	-- skynet.task(): how many; (t): fills t with "<thread> session: <n>" ->
	-- traceback; (session): that one's traceback or "No session";
	-- (co): its session; ("init"): the start function's traceback.
	function skynet.task(ret)
		if ret == nil then
			local n = 0
			for _ in pairs(sessions()) do
				n = n + 1
			end
			return n
		end
		if ret == "init" then
			local co = inner.init_thread()
			if co then
				return traceback(co)
			end
			return
		end
		local t = type(ret)
		if t == "table" then
			for session, co in pairs(sessions()) do
				ret[string.format("%s session: %d", tostring(co), session)] = task_traceback(co)
			end
			return
		end
		if t == "number" then
			local co = sessions()[ret]
			if co then
				return task_traceback(co)
			end
			return "No session"
		end
		if t == "thread" then
			for session, co in pairs(sessions()) do
				if co == ret then
					return session
				end
			end
		end
	end

	function skynet.info_func(f)
		return require("skynet.debug").info_func(f)
	end

	-- Fan-out calls: skynet.request{addr, name, ...}{...}:select(timeout) ----

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
end
