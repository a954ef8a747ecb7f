-- snax.interface: reads a snax service file and lists its methods.
--
-- The file (found by skyhold.code on the `snax` path, or by `loader`) runs
-- once with `G` as its environment. While it runs, `accept.X = f` and
-- `response.X = f` record methods, assigning the globals `init`, `exit`,
-- `hotfix` (or `profile`) records a system function, and other globals it
-- sets are put in `G` once it is done. Reads of globals fall back to
-- `fallback`, if given.
--
-- The result is a list of `{ id, group, name, f }`: ids 1 init, 2 exit,
-- 3 hotfix, 4 profile (group "system", f nil when not defined), then the
-- accept methods sorted by name, then the response methods sorted by name,
-- numbered from 5. The ids depend only on the names a file defines, so a
-- client and the service compute the same ones.
local code = require "skyhold.code"

local SYSTEM = { "init", "exit", "hotfix", "profile" }
local IS_SYSTEM = { init = true, exit = true, hotfix = true, profile = true }
local GROUPS = { "accept", "response" }

local function default_loader(name, G)
	return code.snax(name, G)
end

local function recorder(found, group)
	local methods = found[group]
	return setmetatable({}, {
		__newindex = function(_, k, f)
			if type(k) ~= "string" then
				error(group .. " method only support string", 2)
			end
			if type(f) ~= "function" then
				error(string.format("%s.%s must be function", group, k), 2)
			end
			if methods[k] then
				error(string.format("%s.%s duplicate definition", group, k), 2)
			end
			methods[k] = f
		end,
		__index = methods,
	})
end

return function(name, G, loader, fallback)
	assert(type(G) == "table" and getmetatable(G) == nil, "snax: the environment must be a table without a metatable")
	local found = { accept = {}, response = {} }
	local system = {}
	local globals = {}
	local env = {
		accept = recorder(found, "accept"),
		response = recorder(found, "response"),
	}

	local mainfunc, pattern = (loader or default_loader)(name, G)
	if not mainfunc then
		error(pattern, 0)
	end

	setmetatable(G, {
		__index = function(_, k)
			local v = env[k]
			if v == nil then
				v = globals[k]
			end
			if v == nil and fallback then
				v = fallback[k]
			end
			return v
		end,
		__newindex = function(_, k, v)
			if IS_SYSTEM[k] then
				if type(v) ~= "function" then
					error(k .. " must be a function", 2)
				end
				system[k] = v
			else
				globals[k] = v
			end
		end,
	})
	local ok, err = xpcall(mainfunc, debug.traceback)
	setmetatable(G, nil)
	if not ok then
		error(err, 0)
	end
	for k, v in pairs(globals) do
		rawset(G, k, v)
	end

	local func = {}
	for id, n in ipairs(SYSTEM) do
		func[id] = { id, "system", n, system[n] }
	end
	for _, group in ipairs(GROUPS) do
		local names = {}
		for k in pairs(found[group]) do
			names[#names + 1] = k
		end
		table.sort(names)
		for _, k in ipairs(names) do
			local id = #func + 1
			func[id] = { id, group, k, found[group][k] }
		end
	end
	return func, pattern
end
