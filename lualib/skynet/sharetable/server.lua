-- The service behind skynet.sharetable: each name's newest table, kept
-- packed (skynet.packstring) with a version number, handed to readers.
-- Data arrives as tables (source text is run by the caller), so this
-- service runs no code it is sent. A name belongs to the service that first
-- loaded it: only that one, or one the policy grants `kill`, may load it
-- again (skynet lets anyone).
--
-- Commands (PTYPE_LUA): load(name, t), query(name) -> version, blob,
-- queryall(names?) -> { name = { version, blob } }, close().
--
-- Returns the function that installs the dispatcher: run by a service_cell
-- (skynet.service, as skynet does) or by service/sharetabled.lua.
return function()
	local skynet = require "skynet"
	local core = require "skynet.core"

	local files = {}  -- name -> { version, blob (skynet.packstring), owner }
	local version = 0
	local CMD = {}

	function CMD.load(source, name, t)
		if type(name) ~= "string" or type(t) ~= "table" then
			error("sharetable: load needs a name and a table", 0)
		end
		local f = files[name]
		if f and f.owner ~= source and not core.permits(source, "kill") then
			core.audit(source, "kill", "sharetable load " .. name)
			error(string.format("sharetable %s: only the service that loaded it may load it again", name), 0)
		end
		version = version + 1
		files[name] = { version = version, blob = skynet.packstring(t), owner = f and f.owner or source }
		skynet.ret()
	end

	function CMD.query(_, name)
		local f = files[name]
		if f then
			skynet.ret(skynet.pack(f.version, f.blob))
		else
			skynet.ret()
		end
	end

	function CMD.queryall(_, names)
		local list = {}
		if names then
			for _, name in ipairs(names) do
				local f = files[name]
				if f then
					list[name] = { f.version, f.blob }
				end
			end
		else
			for name, f in pairs(files) do
				list[name] = { f.version, f.blob }
			end
		end
		skynet.ret(skynet.pack(list))
	end

	-- A reader that is going away; copies need no release (no return).
	function CMD.close() end

	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = CMD[cmd]
		if not f then
			error("sharetable: unknown command " .. tostring(cmd), 0)
		end
		f(source, ...)
	end)
end
