-- snax.hotfix: patches a running snax service with new source text.
--
-- The patch is Lua source, loaded in mode "t" (never bytecode), written like
-- a snax service file: `accept.X`, `response.X`, `init`, `exit`, `hotfix`.
-- Each function it defines replaces the service's function of the same group
-- and name; if any name is unknown to the service nothing is replaced and
-- the patch fails ("Patch mismatch"). Then the patch's own `hotfix(...)`
-- runs, if it defines one, and its results are the results of the patch.
--
-- Limit: skyhold has no `debug` library, so a patch's functions cannot be
-- joined to the service's local variables (skynet joins upvalues by name).
-- A patch runs in the service's globals instead: it reads them, and
-- assignments to globals it did not define itself go to the service. State
-- a patch must reach has to live in globals; a `local x` in a patch is a new
-- variable of the patch, not the service's `x`.
local interface = require "snax.interface"

local function patch(func, G, source, ...)
	if type(source) ~= "string" then
		error("hotfix: the patch must be Lua source text", 0)
	end
	local P = {}
	local list = interface("patch", P, function(_, env)
		return load(source, "=patch", "t", env)
	end, G)
	setmetatable(P, { __index = G, __newindex = G })

	local by_name = {}
	for _, m in ipairs(func) do
		by_name[m[2] .. "." .. m[3]] = m
	end
	local changes = {}
	for _, p in ipairs(list) do
		local f = p[4]
		if f then
			local m = by_name[p[2] .. "." .. p[3]]
			if not m then
				error(string.format("Patch mismatch %s.%s", p[2], p[3]), 0)
			end
			changes[#changes + 1] = { m, f }
		end
	end
	for _, c in ipairs(changes) do
		c[1][4] = c[2]
	end
	local hotfix = list[3][4]
	if hotfix then
		return hotfix(...)
	end
end

-- Returns true and the patch's results, or false and the error.
return function(func, G, source, ...)
	return pcall(patch, func, G, source, ...)
end
