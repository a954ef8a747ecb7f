-- skynet.db.mysql text queries against a real MariaDB: ok-results, rows and
-- their types, NULL, multiresultsets, errors, compact arrays, quoting,
-- ping, on_connect, a wrong password, concurrent callers, transactions.
local skynet = require "skynet"
local mysql = require "skynet.db.mysql"
local t = require "mysql_common"
local eq, ok = t.eq, t.ok

skynet.start(function()
	local connected = 0
	local db = t.connect {
		on_connect = function(d)
			connected = connected + 1
			d:query "set names utf8mb4"
		end,
	}
	eq(connected, 1, "on_connect ran")
	eq(type(db:server_ver()), "string", "server_ver")
	eq(ok(db:ping(), "ping").affected_rows, 0, "ping ok-result")

	ok(db:query "drop table if exists cats", "drop")
	local r = ok(db:query "create table cats (id serial primary key, name varchar(5))", "create")
	eq(r.affected_rows, 0, "create affected")
	r = ok(db:query "insert into cats (name) values ('Bob'),(''),(null)", "insert")
	eq(r.affected_rows, 3, "insert affected")
	eq(r.insert_id, 1, "insert id")
	eq(r.server_status & 2, 2, "autocommit status")
	local rows = ok(db:query "select * from cats order by id asc", "select")
	eq(#rows, 3, "three rows")
	eq(rows[1].id, 1, "id is a number")
	eq(rows[1].name, "Bob", "name")
	eq(rows[2].name, "", "empty name")
	eq(rows[3].name, nil, "NULL name")

	-- types in the text protocol
	ok(db:query [[create temporary table ty (i int, b bigint, u tinyint unsigned, d double,
		dc decimal(10,2), s varchar(20), bl blob, dt datetime, y year)]], "types table")
	ok(db:query [[insert into ty values (-5, 9007199254740993, 255, 2.5, 12.34, 'héllo',
		x'00ff0d0a', '2020-03-20 15:30:40', 2024)]], "types insert")
	local row = ok(db:query "select * from ty", "types select")[1]
	eq(row.i, -5, "int")
	eq(row.b, 9007199254740993, "bigint keeps its digits")
	eq(row.u, 255, "unsigned tinyint")
	eq(row.d, 2.5, "double")
	eq(row.dc, 12.34, "decimal as a number")
	eq(row.s, "héllo", "utf8mb4 text")
	eq(row.bl, "\0\255\r\n", "blob bytes")
	eq(row.dt, "2020-03-20 15:30:40", "datetime as text")
	eq(row.y, 2024, "year")

	-- several statements: a multiresultset
	local m = ok(db:query "select 1 as a; select 2 as b; insert into cats (name) values ('x')", "multi")
	eq(m.multiresultset, true, "flagged")
	eq(m[1][1].a, 1, "first set")
	eq(m[2][1].b, 2, "second set")
	eq(m[3].affected_rows, 1, "then an ok-result")

	-- errors come back as a badresult, the connection goes on
	local bad = db:query "select * from notexisttable"
	eq(bad.badresult, true, "badresult")
	eq(bad.errno, 1146, "errno")
	eq(bad.sqlstate, "42S02", "sqlstate")
	eq(type(bad.err), "string", "message")
	local bad2 = db:query "select 1; select * from nope; select 3"
	eq(bad2.multiresultset, true, "multi with an error")
	eq(bad2.badresult, true, "its error")
	eq(bad2[1][1]["1"], 1, "the result before the error")

	-- compact arrays
	db:set_compact_arrays(true)
	local c = ok(db:query "select id, name from cats order by id limit 1", "compact")
	eq(c[1][1], 1, "compact id")
	eq(c[1][2], "Bob", "compact name")
	db:set_compact_arrays(false)
	local cdb = t.connect { compact_arrays = true }
	eq(ok(cdb:query "select 7, 'x'", "compact option")[1][2], "x", "compact_arrays option")
	cdb:disconnect()

	-- quoting: every special byte survives a round trip
	local nasty = "\\mysql escape %string test'test\"\0\b\n\r\t\26end"
	eq(mysql.quote_sql_str [[\mysql escape %string test'test"]], [['\\mysql escape %string test\'test\"']], "quote")
	ok(db:query "create temporary table q (s varbinary(100))", "q table")
	ok(db:query("insert into q values (" .. mysql.quote_sql_str(nasty) .. ")"), "quoted insert")
	eq(ok(db:query "select s from q", "q select")[1].s, nasty, "quoted round trip")

	-- a transaction rolled back leaves nothing
	ok(db:query "create table tx (n int) engine=InnoDB", "tx table")
	ok(db:query "begin", "begin")
	ok(db:query "insert into tx values (1)", "tx insert")
	ok(db:query "rollback", "rollback")
	eq(#ok(db:query "select * from tx", "tx select"), 0, "rolled back")
	ok(db:query "drop table tx", "tx drop")

	-- a large row (under max_packet_size)
	local big = string.rep("z", 200000)
	ok(db:query "create temporary table big (b mediumblob)", "big table")
	ok(db:query("insert into big values ('" .. big .. "')"), "big insert")
	eq(ok(db:query "select b from big", "big select")[1].b, big, "big value")

	-- concurrent callers on one connection
	local n, done = 40, 0
	for i = 1, n do
		skynet.fork(function()
			local rr = ok(db:query("select " .. i .. " as v"), "concurrent")
			eq(rr[1].v, i, "concurrent reply " .. i)
			done = done + 1
		end)
	end
	for _ = 1, 500 do
		if done == n then
			break
		end
		skynet.sleep(1)
	end
	eq(done, n, "all concurrent queries answered")

	-- a wrong password: the connect raises
	local okc, err = pcall(t.connect, { password = "wrong" })
	eq(okc, false, "wrong password refused")
	eq(tostring(err), "[Error: socket]", "refused as a socket error")

	db:disconnect()
	eq(getmetatable(db), nil, "disconnected")
	skynet.error("PASS mysql_queries")
end)
