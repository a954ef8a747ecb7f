-- Threat case: while a service runs, it drops a Rust function (one it had
-- built anew: a skynet.core function taken out of the table and asked for
-- again, a native module taken out of package.loaded and required again)
-- so that the function and an object that can still reach it become
-- garbage in the same collection; the object's __gc, or code reading a
-- weak table the object is a key of, then calls the function. It must
-- still work (the runtime keeps every Rust function alive while the state
-- lives), never reach a freed closure.
local skynet = require "skynet"
local c = require "skynet.core"

local results = { ran = 0, raised = 0 }

local function note(ok, err)
	if ok then
		results.ran = results.ran + 1
	else
		results.raised = results.raised + 1
		skynet.error("runtime finalizer raised " .. tostring(err))
	end
end

-- A fresh Rust function, reachable from nothing else once returned.
local fresh = {
	core = function()
		rawset(c, "now", nil)
		local f = c.now
		rawset(c, "now", nil)
		return f
	end,
	module = function()
		package.loaded.cjson = nil
		local f = require("cjson").encode
		package.loaded.cjson = nil
		return f
	end,
}

local function same_cycle(get)
	local holder = {}
	setmetatable({}, {
		__gc = function()
			note(pcall(holder.f, {}))
		end,
	})
	holder.f = get()
end

local function weak_key(get)
	local eph = setmetatable({}, { __mode = "k" })
	local x = setmetatable({}, { __gc = function() end })
	eph[x] = { f = get() }
	x = nil
	return eph
end

skynet.start(function()
	local tables = {}
	for _ = 1, 20 do
		for _, get in pairs(fresh) do
			same_cycle(get)
			tables[#tables + 1] = weak_key(get)
		end
		collectgarbage()
		for _, eph in ipairs(tables) do
			for _, v in pairs(eph) do
				note(pcall(v.f, {}))
			end
		end
		tables = {}
		collectgarbage()
	end
	assert(c.now() == skynet.now())
	skynet.error(string.format("runtime finalizers ran %d raised %d", results.ran, results.raised))
	assert(results.raised == 0)
	skynet.error("finalizer_at_exit_runtime PASS")
end)
