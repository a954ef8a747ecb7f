-- Schemas saved once for the whole node and loaded by any service, as
-- skynet's sprotoloader does (slots 0..15). In skyhold a slot is written
-- once: saving to a used slot is an error naming it, so no service can
-- swap the protocol that the others decode with.
local parser = require "sprotoparser"
local core = require "sproto.core"
local sproto = require "sproto"

local loader = {}

-- Parses the schema file `filename` and saves it in slot `index`.
function loader.register(filename, index)
	if not io then
		error("sprotoloader.register: reading " .. tostring(filename)
			.. " needs a file root (file_read_roots in the config; docs/migration.md, Files)", 2)
	end
	local f = assert(io.open(filename), "Can't open sproto file")
	local text = f:read "a"
	f:close()
	core.saveproto(assert(core.newproto(parser.parse(text))), index)
end

-- Saves the schema binary `bin` in slot `index`.
function loader.save(bin, index)
	core.saveproto(assert(core.newproto(bin)), index)
end

-- The schema of slot `index`, shared (never freed by this service).
function loader.load(index)
	return sproto.sharenew(core.loadproto(index))
end

return loader
