-- snaxd: runs one snax service (`snaxd NAME`). The snax file runs in this
-- service's globals; PTYPE_SNAX messages carry a method id and its
-- arguments. System methods: 1 init (once, before anything else), 2 exit,
-- 3 hotfix, 4 profile. snaxd is an ordinary service: it runs user code.
--
-- Who may do what, beyond skynet: `exit` is accepted from this service
-- itself, from the service that ran `init` (its creator), or from a caller
-- the policy grants `kill`; `hotfix` (which runs the caller's source text
-- here) from this service itself or from a caller granted `debug_run`.
-- Refusals are audited and answered with an error.
local skynet = require "skynet"
local core = require "skynet.core"
local interface = require "snax.interface"
local hotfix = require "snax.hotfix"
local snax = require "skynet.snax"

local snax_name = tostring(...)
if skynet.getenv "snax_loader" then
	skynet.error("snaxd: config key snax_loader is ignored; snax files are read from the snax path only")
end

local func, pattern = interface(snax_name, _ENV)
local G = _ENV

SERVICE_NAME = snax_name
local mark = pattern:find("?", 1, true)
SERVICE_PATH = mark and (pattern:sub(1, mark - 1) .. snax_name .. "/") or SERVICE_PATH

local profile_table = {}
local hpc = skynet.hpc
local traceback = debug.traceback

local function update_stat(name, ns)
	local t = profile_table[name]
	if t == nil then
		t = { count = 0, time = 0 }
		profile_table[name] = t
	end
	t.count = t.count + 1
	t.time = t.time + ns / 1e9
end

local function reply(ok, ...)
	if not ok then
		error(..., 0)
	end
	skynet.ret(skynet.pack(...))
end

-- Wall-clock time (seconds) spent in each method, by name.
local function timing(method, ...)
	local start = hpc()
	if method[2] == "accept" then
		local ok, err = xpcall(method[4], traceback, ...)
		update_stat(method[3], hpc() - start)
		if not ok then
			error(err, 0)
		end
	else
		local function run(...)
			update_stat(method[3], hpc() - start)
			return ...
		end
		reply(run(xpcall(method[4], traceback, ...)))
	end
end

local function allowed(source, grant, what)
	if source == skynet.self() or core.permits(source, grant) then
		return true
	end
	core.audit(source, grant, what .. " " .. snax_name)
	return false
end

skynet.start(function()
	local init = false
	local creator

	local function dispatcher(session, source, id, ...)
		local method = func[id]
		if method == nil then
			error(string.format("snax %s: unknown method id %s", snax_name, tostring(id)))
		end
		if method[2] ~= "system" then
			assert(init, "Init first")
			return timing(method, ...)
		end
		local command = method[3]
		if command == "hotfix" then
			if not allowed(source, "debug_run", "snax hotfix") then
				skynet.ret(skynet.pack(false, "snax hotfix: not permitted (see the audit log)"))
				return
			end
			skynet.ret(skynet.pack(hotfix(func, G, ...)))
		elseif command == "profile" then
			skynet.ret(skynet.pack(profile_table))
		elseif command == "init" then
			assert(not init, "Already init")
			local f = method[4]
			if f then
				f(...)
			end
			init = true
			creator = source
			skynet.ret()
			skynet.info_func(function()
				return profile_table
			end)
		else
			assert(init, "Never init")
			if source ~= creator and not allowed(source, "kill", "snax exit") then
				error("snax exit: not permitted (see the audit log)")
			end
			local f = method[4]
			if f then
				f(...)
			end
			skynet.ret()
			init = false
			skynet.exit()
		end
	end

	skynet.dispatch("snax", dispatcher)

	function snax.enablecluster()
		skynet.dispatch("lua", dispatcher)
	end
end)
