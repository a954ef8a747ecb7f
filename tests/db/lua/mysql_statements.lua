-- skynet.db.mysql prepared statements: parameters of every Lua type, NULL,
-- binary rows and their types, signed and unsigned, a stored procedure
-- (several results), errors, reset and close.
local skynet = require "skynet"
local t = require "mysql_common"
local eq, ok = t.eq, t.ok

skynet.start(function()
	local db = t.connect()
	ok(db:query "drop table if exists test", "drop")
	ok(db:query [[create table test (id int not null auto_increment primary key,
		str varchar(45), dt timestamp null default null, flt double, blb mediumblob,
		num int, d date, big bigint, flag tinyint) default charset=utf8mb4]], "create")
	ok(db:query "drop procedure if exists get_test", "drop proc")
	ok(db:query [[create procedure get_test(in p_id int)
		begin
			select * from test where id = p_id;
		end]], "create proc")

	local ins = ok(db:prepare "insert test (str,dt,flt,num,blb,d,big,flag) values (?,?,?,?,?,?,?,?)", "prepare insert")
	eq(ins.param_count, 8, "param_count")
	eq(ins.field_count, 0, "field_count")
	eq(#ins.params, 8, "params")
	eq(type(ins.prepare_id), "number", "prepare_id")
	local blob = string.char(0xFF, 0x8F, 0x03, 0x04, 0x0a, 0x0b, 0x0d, 0x0e, 0x10, 0x20, 0x30, 0x40, 0)
	local r = ok(db:execute(ins, "test_str", "2020-3-20 15:30:40", 3.1415, 89, blob, "2021-12-31", -(1 << 62), true), "insert")
	eq(r.insert_id, 1, "insert_id")
	eq(r.affected_rows, 1, "affected_rows")
	r = ok(db:execute(ins, nil, nil, nil, nil, nil, nil, nil, false), "insert nulls")
	eq(r.insert_id, 2, "second insert_id")

	-- the parameter count is checked before anything is sent
	local okc, err = pcall(db.execute, db, ins, "only one")
	eq(okc, false, "wrong count raises")
	eq(string.find(tostring(err), "require stmt.param_count 8 get arg_num 1", 1, true) ~= nil, true, "count message")
	local okt, terr = pcall(db.execute, db, ins, {}, 1, 1, 1, 1, 1, 1, 1)
	eq(okt, false, "a table parameter raises")
	eq(string.find(tostring(terr), "invalid parameter type table", 1, true) ~= nil, true, "type message")

	local sel = ok(db:prepare "select * from test where id = ?", "prepare select")
	eq(sel.field_count, 9, "select field_count")
	eq(#sel.fields, 9, "fields")
	local rows = ok(db:execute(sel, 1), "select 1")
	local row = rows[1]
	eq(row.id, 1, "id")
	eq(row.str, "test_str", "str")
	eq(row.dt, "2020-03-20 15:30:40", "timestamp")
	eq(row.flt, 3.1415, "double")
	eq(row.num, 89, "int")
	eq(row.blb, blob, "blob")
	eq(row.d, "2021-12-31", "date")
	eq(row.big, -(1 << 62), "bigint")
	eq(row.flag, 1, "boolean true as 1")
	row = ok(db:execute(sel, 2), "select 2")[1]
	eq(row.id, 2, "null row id")
	eq(row.str, nil, "NULL str")
	eq(row.blb, nil, "NULL blob")
	eq(row.flag, 0, "boolean false as 0")
	eq(#ok(db:execute(sel, 99), "select none"), 0, "no rows")

	-- a stored procedure: its rows, then an ok-result
	local csp = ok(db:prepare "call get_test(?)", "prepare call")
	local res = ok(db:execute(csp, 1), "call")
	eq(res.mulitresultset, true, "several results (skynet's spelling)")
	eq(res[1][1].str, "test_str", "procedure row")
	eq(res[1][1].blb, blob, "procedure blob")

	-- signed and unsigned
	ok(db:query "drop table if exists test_i_u", "drop iu")
	ok(db:query "create table test_i_u (i tinyint primary key, u tinyint unsigned, s smallint, su smallint unsigned, m mediumint, ib int unsigned)", "create iu")
	ok(db:query "insert into test_i_u values (-1,1,-2,65535,-3,4294967295),(127,128,3,4,5,6),(-127,255,-32768,0,-8388608,0)", "insert iu")
	local st = ok(db:prepare "select * from test_i_u order by i", "prepare iu")
	local iu = ok(db:execute(st), "execute iu")
	eq(iu[1].i, -127, "signed tinyint")
	eq(iu[1].u, 255, "unsigned tinyint")
	eq(iu[1].s, -32768, "signed smallint")
	eq(iu[1].m, -8388608, "signed mediumint")
	eq(iu[2].su, 65535, "unsigned smallint")
	eq(iu[2].ib, 4294967295, "unsigned int")
	eq(iu[3].u, 128, "128 unsigned")
	db:set_compact_arrays(true)
	eq(ok(db:execute(st), "compact execute")[1][1], -127, "compact binary row")
	db:set_compact_arrays(false)

	-- errors from the server
	local bad = db:prepare "select * from nowhere where x = ?"
	eq(bad.badresult, true, "bad prepare")
	eq(bad.errno, 1146, "bad prepare errno")
	ok(db:stmt_reset(sel), "reset")
	db:stmt_close(sel)
	local closed = db:execute(sel, 1)
	eq(closed.badresult, true, "execute after close")
	eq(closed.errno, 1243, "unknown statement handler")
	db:stmt_close(st)
	db:stmt_close(ins)
	db:stmt_close(csp)
	eq(ok(db:query "select 1 as one", "after close")[1].one, 1, "connection fine")
	db:disconnect()
	skynet.error("PASS mysql_statements")
end)
