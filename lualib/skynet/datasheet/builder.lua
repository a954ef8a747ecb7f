-- skynet.datasheet.builder: makes and updates the sheets skynet.datasheet
-- readers query. builder.new(name, t) and builder.update(name, t) take a
-- table or a string builder.compile made; readers see an update in place.
-- skynet sends readers a binary diff to apply to shared memory; skyhold
-- sends each reader the new version packed, and the reader refreshes its
-- copy (docs/migration.md).
local skynet = require "skynet"
local address = require "skynet.datasheet.address"

local builder = {}
local made = {}

local function compiled(v)
	if type(v) == "string" then
		return v
	end
	assert(type(v) == "table", "a datasheet is a table")
	return skynet.packstring(v)
end

function builder.compile(v)
	return compiled(v)
end

function builder.new(name, v)
	assert(made[name] == nil, "datasheet " .. tostring(name) .. " exists")
	skynet.call(address(), "lua", "update", name, compiled(v))
	made[name] = true
end

function builder.update(name, v)
	assert(made[name], "datasheet " .. tostring(name) .. " was not made by this service")
	skynet.call(address(), "lua", "update", name, compiled(v))
end

return builder
