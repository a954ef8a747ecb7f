-- The service behind skynet.datasheet: each sheet's newest version, packed
-- (skynet.packstring) with a version number. Readers query a sheet, then
-- keep a `monitor` call open that is answered when the version changes.
-- Data arrives as tables or packed strings made by the builder, so this
-- service runs no code it is sent. A sheet belongs to the service that made
-- it: only that one, or one the policy grants `kill`, may update it.
--
-- Commands (PTYPE_LUA): update(name, blob), query(name) -> version, blob,
-- monitor(name, version) -> version, blob, close().
--
-- Returns the function that installs the dispatcher: run by a service_cell
-- (skynet.service, as skynet does) or by service/datasheetd.lua.
return function()
	local skynet = require "skynet"
	local core = require "skynet.core"

	local sheets = {}  -- name -> { version, blob, owner, waiting = { source -> response } }
	local CMD = {}

	function CMD.update(source, name, blob)
		if type(name) ~= "string" or type(blob) ~= "string" then
			error("datasheet: update needs a name and a compiled sheet", 0)
		end
		local t = sheets[name]
		if not t then
			sheets[name] = { version = 1, blob = blob, owner = source, waiting = {} }
			return skynet.ret()
		end
		if t.owner ~= source and not core.permits(source, "kill") then
			core.audit(source, "kill", "datasheet update " .. name)
			error(string.format("datasheet %s: only the service that made it may update it", name), 0)
		end
		t.version = t.version + 1
		t.blob = blob
		local waiting = t.waiting
		t.waiting = {}
		for _, response in pairs(waiting) do
			response(true, t.version, blob)
		end
		skynet.ret()
	end

	function CMD.query(_, name)
		local t = sheets[name]
		if not t then
			error("create data first", 0)
		end
		skynet.ret(skynet.pack(t.version, t.blob))
	end

	-- Answered at once if the reader's version is old, else at the next update.
	function CMD.monitor(source, name, version)
		local t = sheets[name]
		if not t then
			error("create data first", 0)
		end
		if t.version ~= version then
			return skynet.ret(skynet.pack(t.version, t.blob))
		end
		local old = t.waiting[source]
		if old then
			old(false)
		end
		t.waiting[source] = skynet.response()
	end

	-- A reader going away: its open monitors are dropped (no return).
	function CMD.close(source)
		for _, t in pairs(sheets) do
			local response = t.waiting[source]
			if response then
				t.waiting[source] = nil
				response(false)
			end
		end
	end

	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = CMD[cmd]
		if not f then
			error("datasheet: unknown command " .. tostring(cmd), 0)
		end
		f(source, ...)
	end)
end
