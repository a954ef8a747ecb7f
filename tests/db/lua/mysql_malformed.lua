-- A fake MySQL server: an oversized packet and a reply cut short raise
-- clear errors; the next query reconnects and works.
local skynet = require "skynet"
local mysql = require "skynet.db.mysql"

skynet.start(function()
	local db = mysql.connect {
		host = "127.0.0.1",
		port = tonumber(skynet.getenv "mysql_port"),
		user = "u",
		password = "p",
		max_packet_size = 64 * 1024,
	}
	local ok = db:query "select 1"
	if ok.affected_rows ~= 0 then
		error "FAIL an ok-result"
	end
	local okh, err = pcall(db.query, db, "select huge")
	if okh or not string.find(tostring(err), "mysql: packet of 16777215 bytes passes max_packet_size 65536", 1, true) then
		error("FAIL huge: " .. tostring(err))
	end
	skynet.error("rejected huge: " .. tostring(err))
	local again = db:query "select 1"
	if again.affected_rows ~= 0 then
		error "FAIL no reconnect after huge"
	end
	local oks, serr = pcall(db.query, db, "select short")
	if oks then
		error "FAIL a reply cut short was taken"
	end
	skynet.error("rejected short: " .. tostring(serr))
	local kb = collectgarbage "count"
	if kb > 32 * 1024 then
		error("FAIL memory grew to " .. kb .. " KiB")
	end
	skynet.error("PASS mysql_malformed")
end)
