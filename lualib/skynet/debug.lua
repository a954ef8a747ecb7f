-- The debug protocol every service answers (PTYPE_DEBUG). Commands that only
-- report (MEM, STAT, TASK, INFO, PING, ...) are open to every service;
-- commands that reach into this service (RUN, EXIT, KILLTASK, TERM) are done
-- only for a caller the policy grants them to, and refusals are audited.
local skynet = require "skynet"
local core = require "skynet.core"

local extension = {}
local info_func

local function allowed(source, grant, what)
	if core.permits(source, grant) then
		return true
	end
	core.audit(source, grant, "debug " .. what)
	return false
end

local function run(source, filename, ...)
	local output = {}
	local env = setmetatable({
		print = function(...)
			local n = select("#", ...)
			local parts = { ... }
			for i = 1, n do
				parts[i] = tostring(parts[i])
			end
			output[#output + 1] = table.concat(parts, "\t")
		end,
	}, { __index = _ENV })
	local f, err = load(source, "@" .. tostring(filename), "t", env)
	if not f then
		return false, err
	end
	local ok, e = pcall(f, ...)
	if not ok then
		output[#output + 1] = tostring(e)
	end
	return ok, table.concat(output, "\n")
end

local command = {}

function command.MEM()
	skynet.retpack(collectgarbage("count"))
end

function command.GC()
	collectgarbage("collect")
	skynet.retpack(collectgarbage("count"))
end

function command.STAT()
	skynet.retpack {
		task = skynet.task(),
		mqlen = skynet.stat("mqlen"),
		cpu = skynet.stat("cpu"),
		message = skynet.stat("message"),
	}
end

function command.TASK(source, session)
	if session then
		skynet.retpack(skynet.task(session))
	else
		local t = {}
		skynet.task(t)
		skynet.retpack(t)
	end
end

function command.UNIQTASK()
	local t = {}
	skynet.task(t)
	local seen, out = {}, {}
	for session, tb in pairs(t) do
		if not seen[tb] then
			seen[tb] = true
			out[session] = tb
		end
	end
	skynet.retpack(out)
end

function command.INFO(source, ...)
	if info_func then
		skynet.retpack(info_func(...))
	else
		skynet.retpack(nil)
	end
end

function command.PING()
	skynet.ret()
end

function command.LINK()
	-- Never answered: the caller's call fails when this service exits.
	skynet.response()
end

function command.SUPPORT(source, pname)
	skynet.retpack(skynet.dispatch(pname) ~= nil)
end

function command.TRACELOG(source, proto, flag)
	skynet.retpack(false)
end

function command.RUN(source, src, filename, ...)
	if not allowed(source, "debug_run", "RUN") then
		error("not permitted: debug RUN needs the debug_run grant (see the audit log)")
	end
	skynet.retpack(run(src, filename, ...))
end

function command.EXIT(source)
	if not allowed(source, "kill", "EXIT") then
		error("not permitted: debug EXIT needs the kill grant (see the audit log)")
	end
	skynet.ret()
	skynet.exit()
end

function command.KILLTASK(source, threadname)
	if not allowed(source, "kill", "KILLTASK") then
		error("not permitted: debug KILLTASK needs the kill grant (see the audit log)")
	end
	local co = skynet.killthread(threadname)
	skynet.retpack(co and tostring(co) or nil)
end

function command.TERM(source, addr)
	if not allowed(source, "kill", "TERM") then
		error("not permitted: debug TERM needs the kill grant (see the audit log)")
	end
	-- As skynet's: term ignores the request (nothing is answered).
	skynet.term(addr)
end

function command.REMOTEDEBUG(source)
	error("debug REMOTEDEBUG is not available in skyhold")
end

local debug = {}

function debug.dispatch(session, source, cmd, ...)
	local f = command[cmd] or extension[cmd]
	if not f then
		error("unknown debug command " .. tostring(cmd))
	end
	if command[cmd] then
		return f(source, ...)
	end
	return f(...)
end

function debug.reg_debugcmd(name, fn)
	extension[name] = fn
end

function debug.info_func(f)
	local old = info_func
	info_func = f
	return old
end

return debug
