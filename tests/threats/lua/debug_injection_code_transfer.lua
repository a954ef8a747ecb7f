-- Code moving between services: a service that learns a sealed function's
-- id cannot unseal it (only the service it was sealed to can); a function
-- that captures locals is refused; a snax hotfix (source text run in the
-- snax service) needs the debug_run grant, and snax.kill of another's snax
-- service needs kill.
local skynet = require "skynet"
local snax = require "skynet.snax"
local code = require "skyhold.code"

local mode = ...

local function worker_main()
	local skynet = require "skynet"
	skynet.start(function() end)
end

if mode == "holder" or mode == "thief" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, id)
			local f, why = code.unseal(id)
			skynet.retpack(f ~= nil, why)
		end)
	end)
	return
end

if mode == "snax_thief" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, handle)
			local obj = snax.bind(handle, "debug_injection_snax_target")
			local hot = pcall(snax.hotfix, obj, "function response.get() return 'owned' end")
			local killed = pcall(snax.kill, obj)
			skynet.retpack(hot, killed)
		end)
	end)
	return
end

skynet.start(function()
	local holder = skynet.newservice("debug_injection_code_transfer", "holder")
	local thief = skynet.newservice("debug_injection_code_transfer", "thief")
	local id = assert(code.seal(worker_main, holder))
	local ok, why = skynet.call(thief, "lua", id)
	assert(not ok, "the thief unsealed a function sealed to another service")
	ok = skynet.call(holder, "lua", id)
	assert(ok, "the service it was sealed to can unseal it")
	ok = skynet.call(holder, "lua", id)
	assert(not ok, "a sealed function unseals once")

	local captured = 42
	local bad, err = code.seal(function() return captured end, holder)
	assert(not bad and tostring(err):find("capture", 1, true), tostring(err))

	local target = snax.newservice("debug_injection_snax_target")
	local sthief = skynet.newservice("debug_injection_code_transfer", "snax_thief")
	local hot, killed = skynet.call(sthief, "lua", target.handle)
	assert(not hot, "hotfix without debug_run")
	assert(target.req.get() == "original", "the target still runs its own code")
	assert(not killed, "snax.kill of another's service without kill")
	assert(target.req.get() == "original", "and it is alive")
	skynet.error("PASS")
end)
