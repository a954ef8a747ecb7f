-- skynet.snax: snax services, whose methods are the `accept.X` (send) and
-- `response.X` (call) functions of a snax file, reached through objects:
-- `obj.post.X(...)` sends, `obj.req.X(...)` calls.
--
-- Messages are PTYPE_SNAX, packed with skynet.pack, the first value a method
-- id. A client reads the snax file itself to learn the ids (snax.interface,
-- running the file's main chunk with only a do-nothing `require`, or the
-- module named by the config key `snax_interface_g`), as skynet does.
local skynet = require "skynet"
local interface = require "snax.interface"

local snax = {}
local typeclass = {}
local handle_cache = setmetatable({}, { __mode = "kv" })

-- Registered by whoever needs it first (service_mgr registers it too).
pcall(skynet.register_protocol, {
	name = "snax",
	id = skynet.PTYPE_SNAX,
	pack = skynet.pack,
	unpack = skynet.unpack,
})

local fallback
local function interface_globals()
	if fallback == nil then
		local name = skynet.getenv "snax_interface_g"
		fallback = name and require(name) or { require = function() end }
	end
	return fallback
end

function snax.interface(name)
	local t = typeclass[name]
	if t then
		return t
	end
	local list = interface(name, {}, nil, interface_globals())
	t = { name = name, accept = {}, response = {}, system = {} }
	for _, m in ipairs(list) do
		t[m[2]][m[3]] = m[1]
	end
	typeclass[name] = t
	return t
end

local meta = {
	__tostring = function(v)
		return string.format("[%s:%x]", v.type, v.handle)
	end,
}

local function gen_post(t, handle)
	return setmetatable({}, {
		__index = function(_, k)
			local id = t.accept[k]
			if not id then
				error(string.format("post %s:%s no exist", t.name, tostring(k)), 2)
			end
			return function(...)
				skynet.send(handle, "snax", id, ...)
			end
		end,
	})
end

local function gen_req(t, handle)
	return setmetatable({}, {
		__index = function(_, k)
			local id = t.response[k]
			if not id then
				error(string.format("request %s:%s no exist", t.name, tostring(k)), 2)
			end
			return function(...)
				return skynet.call(handle, "snax", id, ...)
			end
		end,
	})
end

function snax.bind(handle, name)
	local obj = handle_cache[handle]
	if obj then
		assert(obj.type == name, "snax.bind: the service has another type")
		return obj
	end
	local t = snax.interface(name)
	obj = setmetatable({
		post = gen_post(t, handle),
		req = gen_req(t, handle),
		type = name,
		handle = handle,
	}, meta)
	handle_cache[handle] = obj
	return obj
end

function snax.rawnewservice(name, ...)
	local t = snax.interface(name)
	local handle = skynet.newservice("snaxd", name)
	assert(handle, "snax service " .. tostring(name) .. " exited while starting")
	skynet.call(handle, "snax", t.system.init, ...)
	return handle
end

function snax.newservice(name, ...)
	return snax.bind(snax.rawnewservice(name, ...), name)
end

function snax.uniqueservice(name, ...)
	local handle = assert(skynet.call(".service", "lua", "LAUNCH", "snaxd", name, ...))
	return snax.bind(handle, name)
end

-- A single node: global services are the node's unique services.
function snax.globalservice(name, ...)
	local handle = assert(skynet.call(".service", "lua", "GLAUNCH", "snaxd", name, ...))
	return snax.bind(handle, name)
end

function snax.queryservice(name)
	local handle = assert(skynet.call(".service", "lua", "QUERY", "snaxd", name))
	return snax.bind(handle, name)
end

function snax.queryglobal(name)
	local handle = assert(skynet.call(".service", "lua", "GQUERY", "snaxd", name))
	return snax.bind(handle, name)
end

function snax.kill(obj, ...)
	local t = snax.interface(obj.type)
	skynet.call(obj.handle, "snax", t.system.exit, ...)
end

function snax.self()
	return snax.bind(skynet.self(), SERVICE_NAME)
end

function snax.exit(...)
	snax.kill(snax.self(), ...)
end

local function result(ok, ...)
	if ok then
		return ...
	end
	error((...), 2)
end

-- Runs `source` (Lua text) as a patch in the service (see snax.hotfix in
-- lualib/snax/hotfix.lua). The service accepts it only from itself or from
-- a caller the policy grants `debug_run`.
function snax.hotfix(obj, source, ...)
	local t = snax.interface(obj.type)
	return result(skynet.call(obj.handle, "snax", t.system.hotfix, source, ...))
end

function snax.printf(fmt, ...)
	skynet.error(string.format(fmt, ...))
end

function snax.profile_info(obj)
	local t = snax.interface(obj.type)
	return skynet.call(obj.handle, "snax", t.system.profile)
end

-- Replaced inside a snax service (service/snaxd.lua).
function snax.enablecluster()
	error("snax.enablecluster is for snax services")
end

return snax
