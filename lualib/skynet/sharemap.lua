-- skynet.sharemap: a table one service writes and others read, kept as a
-- sproto message in a skynet.stm object. The schema lives in sproto slot 0
-- of the node (sharemap.register), as in skynet.
--
-- writer = sharemap.writer(typename, t): fields are set on `writer`;
-- writer:commit() publishes them, writer:copy() gives the token a reader
-- service passes to sharemap.reader(typename, token). A reader's fields are
-- the last version it took; reader:update() takes the newest.
local stm = require "skynet.stm"
local sprotoloader = require "sprotoloader"

local sharemap = {}

local schema
local function loaded()
	schema = schema or sprotoloader.load(0)
	return schema
end

-- Reads the schema text from `protofile` into slot 0 (once per node).
function sharemap.register(protofile)
	sprotoloader.register(protofile, 0)
end

local writer = {}

function writer:commit()
	self.__obj(loaded():encode(self.__typename, self.__data))
end

function writer:copy()
	return stm.copy(self.__obj)
end

function sharemap.writer(typename, t)
	t = t or {}
	local w = {
		__typename = typename,
		__obj = stm.new(loaded():encode(typename, t)),
		__data = t,
		commit = writer.commit,
		copy = writer.copy,
	}
	return setmetatable(w, { __index = t, __newindex = t })
end

-- Decodes a version into the reader's own table, emptied first, so code
-- holding the reader sees the newest fields only.
local function into(msg, sz, self)
	local data = self.__data
	for k in pairs(data) do
		data[k] = nil
	end
	return loaded():decode(self.__typename, msg, sz, data)
end

local reader = {}

function reader:update()
	return self.__obj(into, self)
end

function sharemap.reader(typename, token)
	local obj = stm.newcopy(token)
	local _, data = obj(function(msg, sz)
		return loaded():decode(typename, msg, sz)
	end)
	local r = {
		__typename = typename,
		__obj = obj,
		__data = data or {},
		update = reader.update,
	}
	return setmetatable(r, { __index = r.__data, __newindex = error })
end

return sharemap
