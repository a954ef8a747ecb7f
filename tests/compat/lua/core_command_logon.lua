-- skynet.core's command("LOGON"/"LOGOFF", address), as skynet's console
-- calls it: an ordinary service (no read_secrets) is refused, and a
-- command skyhold does not keep says so.
local skynet = require "skynet"
local core = require "skynet.core"

local mode = ...

skynet.start(function()
	if mode == "idle" then
		skynet.error("FAIL a logged launch by an ordinary service started a service")
		return
	end
	if mode == "child" then
		skynet.dispatch("lua", function()
			local me = skynet.address(skynet.self())
			local ok, err = pcall(core.command, "LOGON", me)
			local ok2, err2 = pcall(core.command, "SIGNAL", me)
			local ok3, err3 = pcall(core.command, "LOGOFF", "nonsense")
			-- The launcher's logged launch, for a caller without read_secrets.
			local ok4 = pcall(skynet.call, ".launcher", "lua", "LOGLAUNCH", "snlua", "core_command_logon", "idle")
			skynet.ret(skynet.pack(ok, tostring(err), ok2, tostring(err2), ok3, tostring(err3), ok4))
		end)
		return
	end
	local child = skynet.newservice("core_command_logon", "child")
	local ok, err, ok2, err2, ok3, err3, ok4 = skynet.call(child, "lua")
	if ok4 then
		skynet.error("FAIL LOGLAUNCH by an ordinary service was not refused")
		return
	end
	if ok or not err:find("logon: not permitted", 1, true) or not err:find("read_secrets", 1, true) then
		skynet.error("FAIL logon by an ordinary service: " .. tostring(ok) .. " " .. err)
		return
	end
	if ok2 or not err2:find("SIGNAL is not supported", 1, true) then
		skynet.error("FAIL SIGNAL: " .. tostring(ok2) .. " " .. err2)
		return
	end
	if ok3 or not err3:find("Can't convert nonsense to handle", 1, true) then
		skynet.error("FAIL a bad address: " .. tostring(ok3) .. " " .. err3)
		return
	end
	skynet.error("PASS")
end)
