-- Shared by the differential scripts: a value as text that reads the same
-- under every Lua the scripts run on. Strings are quoted with bytes outside
-- printable ASCII as \ddd; numbers are written with %.17g (so an integral
-- float and an integer look alike: Debian's lua-cjson 2.1.0 decodes every
-- number as a float, later lua-cjson as an integer where it can); tables
-- with their keys sorted.
local show

local function str(s)
	return '"' .. s:gsub('[%c"\\\128-\255]', function(c)
		return string.format("\\%03d", c:byte())
	end) .. '"'
end

local function num(n)
	if n ~= n then
		return "nan"
	elseif n == math.huge then
		return "inf"
	elseif n == -math.huge then
		return "-inf"
	elseif n == 0 then
		return (1 / n < 0) and "-0" or "0"
	end
	return string.format("%.17g", n)
end

local function keyorder(a, b)
	local ta, tb = type(a), type(b)
	if ta ~= tb then
		return ta < tb
	end
	if ta == "number" or ta == "string" then
		return a < b
	end
	return tostring(a) < tostring(b)
end

function show(v, seen)
	local t = type(v)
	if t == "string" then
		return str(v)
	elseif t == "number" then
		return num(v)
	elseif t == "table" then
		seen = seen or {}
		if seen[v] then
			return "<cycle>"
		end
		seen[v] = true
		local keys = {}
		for k in pairs(v) do
			keys[#keys + 1] = k
		end
		table.sort(keys, keyorder)
		local parts = {}
		for _, k in ipairs(keys) do
			parts[#parts + 1] = "[" .. show(k, seen) .. "]=" .. show(v[k], seen)
		end
		seen[v] = nil
		local mt = getmetatable(v)
		return "{" .. table.concat(parts, ",") .. "}" .. (type(mt) == "table" and "+mt" or "")
	elseif t == "nil" or t == "boolean" then
		return tostring(v)
	else
		return t
	end
end

-- All results of a call, shown and joined.
local function all(...)
	local parts = {}
	for i = 1, select("#", ...) do
		parts[i] = show((select(i, ...)))
	end
	return table.concat(parts, " ")
end

-- A protected call's outcome: "ok" and the results, or "error" and the
-- message with the directory of a script's chunk name taken off (the two
-- interpreters name the same file by different paths).
local function try(f, ...)
	local r = table.pack(pcall(f, ...))
	if r[1] then
		return "ok " .. all(table.unpack(r, 2, r.n))
	end
	local e = r[2]
	if type(e) == "string" then
		e = e:gsub("[^%s:]*/([%w_]+%.lua:)", "%1")
		-- Where in re.lua an error is raised is how that file is laid out
		-- (Debian's and skyhold's are different texts), not behaviour.
		e = e:gsub("^re%.lua:%d+: ", "re.lua: ")
		return "error " .. str(e)
	end
	return "error " .. show(e)
end

return { show = show, all = all, str = str, try = try }
