-- Helpers for the mysql cases: the connection config and checks.
local skynet = require "skynet"
local mysql = require "skynet.db.mysql"

local M = {}

function M.conf(extra)
	local c = {
		host = "127.0.0.1",
		port = tonumber(skynet.getenv "mysql_port"),
		database = skynet.getenv "mysql_database",
		user = "root",
		password = skynet.getenv "mysql_password",
		charset = "utf8mb4",
		max_packet_size = 1024 * 1024,
	}
	for k, v in pairs(extra or {}) do
		c[k] = v
	end
	return c
end

function M.connect(extra)
	return mysql.connect(M.conf(extra))
end

function M.eq(a, b, what)
	if a ~= b then
		error(string.format("FAIL %s: %s ~= %s", what, tostring(a), tostring(b)), 2)
	end
end

-- The query must succeed (not a badresult).
function M.ok(res, what)
	if type(res) ~= "table" or res.badresult then
		error(string.format("FAIL %s: %s (%s)", what, tostring(res and res.err), tostring(res and res.errno)), 2)
	end
	return res
end

return M
