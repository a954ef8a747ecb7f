-- The server restarts (the test stops and starts it) while this service
-- inserts: inserts fail with an error while it is down, the channel
-- reconnects with a new handshake, every acknowledged insert is there.
local skynet = require "skynet"
local t = require "mysql_common"

skynet.start(function()
	local handshakes = 0
	local db = t.connect { on_connect = function() handshakes = handshakes + 1 end }
	t.ok(db:query "drop table if exists log", "drop")
	t.ok(db:query "create table log (n int primary key) engine=InnoDB", "create")
	local acked, errors, after, i = {}, 0, 0, 0
	while after < 30 do
		i = i + 1
		local ok, res = pcall(db.query, db, "insert into log values (" .. i .. ")")
		if ok and not res.badresult then
			acked[#acked + 1] = i
			if #acked == 20 then
				skynet.error("WRITING")
			end
			if errors > 0 then
				after = after + 1
			end
			skynet.sleep(1)
		else
			errors = errors + 1
			if errors == 1 then
				skynet.error("SAW ERROR " .. tostring(ok and res.err or res))
			end
			skynet.sleep(10)
		end
		if i > 100000 then
			error "FAIL the channel never came back"
		end
	end
	local rows = t.ok(db:query "select n from log", "select")
	local have = {}
	for _, r in ipairs(rows) do
		have[r.n] = true
	end
	for _, n in ipairs(acked) do
		if not have[n] then
			error("FAIL acknowledged insert " .. n .. " lost after the restart")
		end
	end
	if handshakes < 2 then
		error "FAIL no second handshake"
	end
	skynet.error(string.format("PASS mysql_restart acked=%d errors=%d handshakes=%d", #acked, errors, handshakes))
end)
