-- The services the service_flood case starts: ordinary services (their
-- script is not the start service's, so they get the ordinary role).
local skynet = require "skynet"
require "skynet.manager"

local mode = ...

-- `idle` does nothing.
if mode == "idle" then
	skynet.start(function() end)
	return
end

-- Holds memory on request, and lets it go by exiting.
if mode == "hog" then
	local hoard
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, mib)
			if cmd == "eat" then
				hoard = string.rep("h", mib << 20)
				skynet.retpack(#hoard)
			elseif cmd == "ping" then
				skynet.retpack("pong")
			elseif cmd == "exit" then
				skynet.exit()
			end
		end)
	end)
	return
end

-- Starts services in a tight loop, through newservice (the launcher) and
-- then through skynet.launch, until the node refuses; answers with what it
-- saw. A later "again" starts one more, once its bucket has refilled.
if mode == "flooder" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, limit)
			if cmd == "flood" then
				local started, err = 0, nil
				for _ = 1, limit do
					local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
					if not ok then
						err = e
						break
					end
					started = started + 1
				end
				local direct_refusals, direct_err = 0, nil
				for _ = 1, 100 do
					local h, e = skynet.launch("snlua", "service_flood_child idle")
					if h == nil then
						direct_refusals, direct_err = direct_refusals + 1, e
						break
					end
				end
				skynet.retpack(started, tostring(err), direct_refusals, tostring(direct_err))
			elseif cmd == "steal" then
				-- Put its launches on another service's account: through the
				-- launcher, and through skynet.core directly. Both refused.
				local victim = limit
				local ok1, e1 = pcall(skynet.call, ".launcher", "lua", "LAUNCHFOR", victim, "snlua", "service_flood_child", "idle")
				local ok2, e2 = pcall(require("skynet.core").launch, "snlua", "service_flood_child idle", victim)
				skynet.retpack(ok1, tostring(e1), ok2, tostring(e2))
			elseif cmd == "again" then
				local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
				skynet.retpack(ok, tostring(e))
			end
		end)
	end)
	return
end

