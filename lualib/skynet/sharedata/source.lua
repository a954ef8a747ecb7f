-- skynet.sharedata.source: turns data given as Lua source into a table, for
-- skynet.sharedata and skynet.sharetable.
--
-- The source is text (mode "t"), run in the calling service (never in the
-- data services) in a small environment of its own: the pure base functions
-- and copies of string, table, math and utf8; no require, load, io or
-- skynet. It may return a table, which is the data, or set globals, which
-- together are the data. `file(name, ...)` reads a file found on the
-- configured lua_path only (`data/items.lua` or `data.items`, relative to a
-- lua_path root); absolute paths and `..` are refused.
local code = require "skyhold.code"

local source = {}

local BASE = {
	"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
	"tostring", "type", "rawequal", "rawget", "rawlen", "rawset", "setmetatable",
	"getmetatable", "xpcall",
}
local LIBS = { string = string, table = table, math = math, utf8 = utf8 }
local G = _ENV

local function environment()
	local env = {}
	for _, k in ipairs(BASE) do
		env[k] = G[k]
	end
	for name, lib in pairs(LIBS) do
		local copy = {}
		for k, v in pairs(lib) do
			copy[k] = v
		end
		env[name] = copy
	end
	env.unpack = table.unpack
	return env
end

local function run(f, value, ...)
	local r = f(...)
	setmetatable(value, nil)
	if type(r) == "table" then
		return r
	end
	return value
end

-- The data `text` (Lua source) makes; `name` names it in error messages.
function source.string(text, name, ...)
	assert(type(text) == "string", "data source must be Lua source text")
	local value = setmetatable({}, { __index = environment() })
	local f, err = load(text, "=" .. tostring(name), "t", value)
	if not f then
		error(err, 0)
	end
	return run(f, value, ...)
end

-- The data the file `name` (on the lua_path) makes.
function source.file(name, ...)
	local value = setmetatable({}, { __index = environment() })
	local f, err = code.datafile(tostring(name), value)
	if not f then
		error(err, 0)
	end
	return run(f, value, ...)
end

return source
