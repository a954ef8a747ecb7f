-- A compromised service tries to exhaust the node by creating services: as
-- fast as it can (the spawn rate stops it), or while the node's Lua memory
-- is spent (the memory budget stops it). The config key `flood_case`
-- chooses the case; every refusal must say which config key to change.
local skynet = require "skynet"
require "skynet.manager"

local function check(cond, what)
	if not cond then
		skynet.error("FAIL: " .. what)
		error(what)
	end
end

local cases = {}

-- The flooder is refused past its burst, with the key to change; a
-- bystander starts services all the while; the flooder starts again once
-- its bucket refills.
function cases.rate()
	local burst = tonumber(skynet.getenv "spawn_burst")
	local flooder = skynet.newservice("service_flood_child", "flooder")
	local started, err, direct, direct_err = skynet.call(flooder, "lua", "flood", 10 * burst)
	skynet.error(string.format("flooder started %d, refused: %s", started, err))
	check(started >= burst, "the burst was not granted whole: " .. started)
	check(started < 10 * burst, "the flooder was never refused")
	check(err:find("launch refused", 1, true), err)
	check(err:find(skynet.address(flooder), 1, true), "the error names the service: " .. err)
	check(err:find("config spawn_rate", 1, true), "the error names the config key: " .. err)
	check(direct == 1 and direct_err:find("config spawn_rate", 1, true), "skynet.launch refused: " .. direct_err)
	skynet.error("refusals seen: " .. (1 + direct))
	-- Nor can it start services on another's account (here, this one's,
	-- whose bucket is full).
	local ok1, e1, ok2, e2 = skynet.call(flooder, "lua", "steal", skynet.self())
	check(not ok1, "LAUNCHFOR through the launcher was not refused")
	check(not ok2 and e2:find("launch_for grant", 1, true), "core.launch for another: " .. e2)
	-- Another service has its own bucket: it starts services now.
	for i = 1, 3 do
		local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
		check(ok, "a bystander was refused: " .. tostring(e))
	end
	-- At one per second, a second and a half always brings a token back.
	skynet.sleep(150)
	local ok, e = skynet.call(flooder, "lua", "again")
	check(ok, "the flooder's bucket did not refill: " .. e)
	skynet.error("PASS")
end

-- A hog takes the node's Lua memory past the budget: new Lua services are
-- refused, with the key to change, until the hog exits.
function cases.memory()
	local hog = skynet.newservice("service_flood_child", "hog")
	skynet.call(hog, "lua", "eat", 24)
	-- The hog's memory is reported after its message: a second call is
	-- handled only after that.
	skynet.call(hog, "lua", "ping")
	local refusals = 0
	for i = 1, 3 do
		local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
		check(not ok, "a service started past the budget")
		check(e:find("config lua_memory_total", 1, true), "the error names the config key: " .. e)
		refusals = refusals + 1
	end
	-- uniqueservice goes through .service, which launches for the asker:
	-- refused as well, and not remembered as a failure.
	local ok, e = pcall(skynet.uniqueservice, "service_flood_child", "idle")
	check(not ok and e:find("config lua_memory_total", 1, true), "uniqueservice: " .. tostring(e))
	refusals = refusals + 1
	skynet.error("refusals seen: " .. refusals)
	skynet.send(hog, "lua", "exit")
	-- Once a call to the hog fails, it has retired, and its memory with it.
	while pcall(skynet.call, hog, "lua", "ping") do
		skynet.sleep(1)
	end
	local ok2, e2 = pcall(skynet.newservice, "service_flood_child", "idle")
	check(ok2, "refused after the memory was freed: " .. tostring(e2))
	local u = skynet.uniqueservice("service_flood_child", "idle")
	check(u, "uniqueservice after the memory was freed")
	skynet.error("PASS")
end

-- A role the policy raises (service_flood_vip) is not held to the node's
-- limits, while an ordinary service is.
function cases.policy()
	local vip = skynet.newservice("service_flood_vip")
	local hog = skynet.newservice("service_flood_child", "hog")
	skynet.call(hog, "lua", "eat", 24)
	skynet.call(hog, "lua", "ping")
	local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
	check(not ok and e:find("lua_memory_total", 1, true), "an ordinary service started past the budget")
	local burst = tonumber(skynet.getenv "spawn_burst")
	local started, err = skynet.call(vip, "lua", "flood", 3 * burst)
	check(started == 3 * burst, "the raised role was refused: " .. tostring(err))
	skynet.error("PASS")
end

-- With every limit at its lowest, skyhold's own services (the system role)
-- still boot the node and start this one; this one is refused.
function cases.system()
	local ok, e = pcall(skynet.newservice, "service_flood_child", "idle")
	check(not ok and e:find("lua_memory_total", 1, true), "an ordinary service started past the budget")
	skynet.error("PASS")
end

skynet.start(function()
	local case = assert(cases[skynet.getenv "flood_case"], "no such flood_case")
	case()
end)
