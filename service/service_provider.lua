-- service_provider: the registry behind skynet.service. For each name it
-- starts one service_cell and hands it the main function's sealed source
-- (see lualib/skynet/service.lua and skyhold.code); it never runs that code
-- itself.
--
-- Commands (PTYPE_LUA): test(name, origin), launch(name, sealed_id, ...),
-- query(name) (waits until the name is launched), close(name).
local skynet = require "skynet"
local core = require "skynet.core"
local code = require "skyhold.code"
require "skynet.manager"

local svr = {}   -- name -> { address, booting, queue, error, origin, creator, time, init }

local function entry(name)
	local s = svr[name]
	if s == nil then
		s = { queue = {} }
		svr[name] = s
	end
	return s
end

local function mismatch(name, had, asked)
	return string.format("service.new %s: the name belongs to the function at %s, not %s", name, had, tostring(asked))
end

local provider = {}

function provider.test(_, name, origin)
	local s = svr[name]
	if s == nil then
		return skynet.ret()
	end
	if s.origin and origin and s.origin ~= origin then
		return skynet.retpack(nil, nil, mismatch(name, s.origin, origin))
	end
	if s.booting then
		skynet.retpack(nil, true)
	elseif s.address then
		skynet.retpack(s.address)
	elseif s.error then
		skynet.retpack(nil, nil, s.error)
	else
		skynet.ret()
	end
end

function provider.query(_, name)
	local s = entry(name)
	if s.queue then
		s.queue[#s.queue + 1] = skynet.response()
	elseif s.address then
		skynet.retpack(s.address)
	else
		error(s.error)
	end
end

-- Raised by boot when the node refused to start the cell (the spawn rate or
-- memory budget of the service that asked): the name is then forgotten
-- rather than marked failed, and a later launch tries again.
local refusal = { __tostring = function(r) return r.why end }

local function boot(s, name, id, ...)
	-- The cell counts against the limits of the service that asked for it.
	local addr, why = skynet.call(".launcher", "lua", "LAUNCHFOR", s.creator, "snlua", "service_cell", name)
	if why then
		error(setmetatable({ why = why }, refusal))
	end
	s.cell = addr
	assert(addr, "service_cell exited while starting")
	assert(code.reseal(id, addr))
	local ok, err = skynet.call(addr, "lua", "init", id, ...)
	if not ok then
		error(err, 0)
	end
	local args = table.pack(...)
	for i = 1, args.n do
		args[i] = tostring(args[i])
	end
	if args.n > 0 then
		s.init = table.concat(args, ",", 1, args.n)
	end
	s.time = skynet.time()
	return addr
end

function provider.launch(source, name, id, ...)
	local giver, origin = code.sealed(id)
	if giver ~= source then
		-- Not a function the caller sealed for this service.
		return skynet.retpack(nil, "service.new " .. tostring(name) .. ": no function was sealed for it by the caller")
	end
	local s = entry(name)
	if s.origin and s.origin ~= origin then
		code.drop(id)
		return skynet.retpack(nil, mismatch(name, s.origin, origin))
	end
	if s.address then
		code.drop(id)
		return skynet.retpack(s.address)
	end
	if s.error then
		code.drop(id)
		return skynet.retpack(nil, s.error)
	end
	if s.booting then
		code.drop(id)
		s.queue[#s.queue + 1] = skynet.response()
		return
	end
	s.booting = true
	s.origin = origin
	s.creator = source
	local ok, addr = xpcall(boot, function(e)
		return getmetatable(e) == refusal and e or debug.traceback(e)
	end, s, name, id, ...)
	s.booting = nil
	local queue = s.queue
	s.queue = nil
	if ok then
		s.address = addr
		for _, resp in ipairs(queue) do
			resp(true, addr)
		end
		skynet.retpack(addr)
	else
		code.drop(id)
		if s.cell then
			skynet.kill(s.cell)
		end
		local err = "service.new " .. tostring(name) .. ": " .. tostring(addr)
		if getmetatable(addr) == refusal then
			svr[name] = nil
		else
			s.error = err
		end
		for _, resp in ipairs(queue) do
			resp(false)
		end
		skynet.retpack(nil, err)
	end
end

function provider.close(source, name)
	local s = svr[name]
	if not s or s.booting or not s.address then
		return skynet.retpack(nil)
	end
	if source ~= s.creator and not core.permits(source, "kill") then
		core.audit(source, "kill", "service.close " .. tostring(name))
		return skynet.retpack(nil, "service.close " .. tostring(name) .. ": not permitted (see the audit log)")
	end
	svr[name] = nil
	skynet.kill(s.address)
	skynet.retpack(s.address)
end

skynet.start(function()
	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = provider[cmd]
		if not f then
			error("service_provider: unknown command " .. tostring(cmd))
		end
		f(source, ...)
	end)
	skynet.info_func(function()
		local info = {}
		for name, s in pairs(svr) do
			local status
			if s.booting then
				status = "booting"
			elseif s.queue then
				status = "waiting(" .. #s.queue .. ")"
			elseif s.error then
				status = "error"
			end
			info[s.address and skynet.address(s.address) or name] = {
				name = name,
				init = s.init,
				origin = s.origin,
				time = s.time and os.date("%Y %b %d %T %z", math.floor(s.time)),
				status = status,
			}
		end
		return info
	end)
end)
