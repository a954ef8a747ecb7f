-- .launcher: creates Lua services for newservice and answers once they have
-- started (LAUNCHOK), failed (ERROR) or exited during start (REMOVE).
local skynet = require "skynet"
local core = require "skynet.core"
require "skynet.manager"

local services = {}   -- handle -> "snlua name args"
local pending = {}    -- handle -> response closure of the creator
local instance = {}   -- handle -> true while starting

local command = {}
local NORET = {}

function command.LIST()
	local list = {}
	for k, v in pairs(services) do
		list[skynet.address(k)] = v
	end
	return list
end

local function list_srv(fmt_func, ...)
	local list = {}
	for addr in pairs(services) do
		local ok, v = pcall(skynet.call, addr, "debug", ...)
		list[skynet.address(addr)] = fmt_func(ok and v or "ERROR", addr)
	end
	return list
end

function command.STAT()
	return list_srv(function(v) return v end, "STAT")
end

function command.MEM()
	return list_srv(function(kb, a)
		if kb == "TIMEOUT" or kb == "ERROR" then
			return string.format("%s (%s)", kb, services[a])
		end
		return string.format("%.2f Kb (%s)", kb, services[a])
	end, "MEM")
end

function command.GC()
	for k in pairs(services) do
		skynet.send(k, "debug", "GC")
	end
	return command.MEM()
end

-- The launcher holds the system role; it acts for a caller only when the
-- caller itself holds the grant (no confused deputy).
local function allowed(caller, grant, what)
	if core.permits(caller, grant) then
		return true
	end
	core.audit(caller, grant, what .. " through .launcher")
	return false
end

function command.KILL(caller, handle)
	if not allowed(caller, "kill", "kill " .. skynet.address(handle)) then
		error("not permitted: kill (see the audit log)")
	end
	skynet.kill(handle)
	local ret = { [skynet.address(handle)] = tostring(services[handle]) }
	services[handle] = nil
	return ret
end

function command.REMOVE(caller, handle, kill)
	if handle ~= caller and not allowed(caller, "kill", "remove " .. skynet.address(handle)) then
		return NORET
	end
	services[handle] = nil
	local response = pending[handle]
	if response then
		-- The service exited while starting: the creator gets nil.
		response(not kill)
		pending[handle] = nil
	end
	return NORET
end

-- Every launch counts against the service that asked for it (its grants,
-- its spawn rate, its role's memory budget), not against the launcher,
-- which holds the system role and no limits: otherwise newservice would be
-- a way around them. A refusal answers `nil, why`, which newservice raises;
-- the launch was refused, so nothing was started.
local function launch(requester, service, ...)
	if service ~= "snlua" and not allowed(requester, "launch", "launch " .. tostring(service)) then
		skynet.response()(false)
		return
	end
	local param = table.concat({ ... }, " ")
	local inst, why = core.launch(service, param, requester)
	local response = skynet.response()
	if inst then
		services[inst] = service .. " " .. param
		pending[inst] = response
	else
		response(true, nil, why)
		return
	end
	return inst
end

function command.LAUNCH(caller, service, ...)
	launch(caller, service, ...)
	return NORET
end

-- LOGLAUNCH: a launch whose service has its message log on from the start
-- (skynet's LOGON), for a caller that may read what services are sent
-- (read_secrets, as the console's role). When the log cannot be opened (no
-- file_write_root, say) the service runs all the same, and the log says why.
function command.LOGLAUNCH(caller, service, ...)
	if not allowed(caller, "read_secrets", "logged launch of " .. tostring(service)) then
		error("not permitted: read_secrets, which a logged launch needs (see the audit log)")
	end
	local inst = launch(caller, service, ...)
	if inst then
		local ok, err = pcall(core.command, "LOGON", skynet.address(inst))
		if not ok then
			skynet.error(string.format("LOGLAUNCH %s: %s", skynet.address(inst), tostring(err)))
		end
	end
	return NORET
end

-- LAUNCHFOR requester service ...: a launch another service asked the
-- caller for (the unique-service managers), counted against `requester`.
-- Only a caller that may itself launch for others may ask.
function command.LAUNCHFOR(caller, requester, service, ...)
	if requester ~= caller and not allowed(caller, "launch_for", "launch for " .. skynet.address(requester)) then
		error("not permitted: launch_for (see the audit log)")
	end
	launch(requester, service, ...)
	return NORET
end

function command.ERROR(address)
	-- The service failed to start.
	local response = pending[address]
	if response then
		response(false)
		pending[address] = nil
	end
	services[address] = nil
	return NORET
end

function command.LAUNCHOK(address)
	local response = pending[address]
	if response then
		response(true, address)
		pending[address] = nil
	end
	return NORET
end

function command.QUERY(_, request_session)
	for address, response in pairs(pending) do
		return address
	end
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	unpack = skynet.tostring,
	dispatch = function(session, address, cmd)
		if cmd == "" or cmd == "LAUNCHOK" then
			command.LAUNCHOK(address)
		elseif cmd == "ERROR" then
			command.ERROR(address)
		else
			error("Invalid text command " .. cmd)
		end
	end,
}

skynet.dispatch("lua", function(session, address, cmd, ...)
	cmd = string.upper(cmd)
	local f = command[cmd]
	if f then
		local ret = f(address, ...)
		if ret ~= NORET then
			skynet.ret(skynet.pack(ret))
		end
	else
		skynet.ret(skynet.pack({ "Unknown command" }))
	end
end)

skynet.start(function() end)
