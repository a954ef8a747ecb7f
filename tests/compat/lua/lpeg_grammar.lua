-- lpeg and re inside a service: a sproto-style schema grammar (P, S, R, C,
-- Ct, Cg, Cc, V, Cmt, B), re, and a grammar bomb ended by the budget.
local skynet = require "skynet"
local lpeg = require "lpeg"
local re = require "re"

local P, S, R, C, Ct, Cg, Cc, V, Cmt, B = lpeg.P, lpeg.S, lpeg.R, lpeg.C,
	lpeg.Ct, lpeg.Cg, lpeg.Cc, lpeg.V, lpeg.Cmt, lpeg.B

local function schema_parser()
	local blank = S" \t\r\n" + P"#" * (1 - S"\r\n")^0
	local blanks = blank^0
	local word = C(R("az", "AZ", "__") * R("az", "AZ", "09", "__")^0)
	local num = C(R"09"^1) / tonumber
	local function k(s) return blanks * P(s) * blanks end
	local line = 0
	local count = Cmt(P"\n", function(_, pos) line = line + 1; return pos end)
	local field = Ct(Cg(word, "name") * blanks * Cg(num, "tag") * k":" * Cg(C(P"*"^-1 * R("az", "AZ", "09", "__")^1), "typename"))
	local typedef = P{
		"TYPE",
		TYPE = Ct(Cg(Cc"type", "kind") * P"." * Cg(word, "name") * k"{" * Ct((V"FIELD" * blanks)^0) * P"}"),
		FIELD = field + V"TYPE",
	}
	local proto = Ct(Cg(Cc"protocol", "kind") * Cg(word, "name") * blanks * Cg(num, "tag") * k"{" * P"}")
	local all = blanks * Ct(((typedef + proto) * blanks)^0) * -1
	return all, count
end

skynet.start(function()
	local all = schema_parser()
	local text = [[
# a schema
.Person {
	name 0 : string
	id 1 : integer
	.PhoneNumber {
		number 0 : string
	}
	phone 2 : *PhoneNumber
}
login 1 {}
]]
	local r = assert(all:match(text), "schema parses")
	assert(r[1].kind == "type" and r[1].name == "Person")
	assert(r[1][1][1].name == "name" and r[1][1][1].tag == 0 and r[1][1][1].typename == "string")
	assert(r[1][1][3].name == "PhoneNumber")
	assert(r[1][1][4].typename == "*PhoneNumber")
	assert(r[2].kind == "protocol" and r[2].tag == 1)
	assert(not all:match(".Broken { x : }"))

	-- look-behind and match-time captures
	assert(lpeg.match((1 - B"x" * "y")^0 * -1, "ay by") == 6)
	assert(lpeg.match(Cmt(C(R"09"^1), function(_, i, d) return tonumber(d) > 5 and i end), "3") == nil)

	-- errors are LPeg's strings
	local ok, e = pcall(lpeg.P, { V"a" * "x", a = V"a" })
	assert(not ok and e:find("may be left recursive", 1, true), e)
	-- with the position of the Lua code that called into lpeg, as
	-- luaL_error gives it
	ok, e = pcall(function() return (P"a"^0)^0 end)
	assert(not ok and e:match("lpeg_grammar%.lua:%d+: loop body may accept empty string$"), e)

	-- re
	assert(re.match("hello world", "{%a+} ' ' {%a+}") == "hello")
	assert(re.gsub("a,b,,c", "','", ";") == "a;b;;c")
	local b, f = re.find("  abc", "[a-c]+")
	assert(b == 3 and f == 5)
	local list = re.compile([[
		list <- {| item (',' item)* |}
		item <- { [^,]+ }
	]])
	local t = list:match("x,yy,zzz")
	assert(#t == 3 and t[3] == "zzz")

	-- a long match is charged to the budget: this message ends with the
	-- budget's error, and the service goes on to the next one
	local slow = (P"a"^0 * "b" + P(1))^0
	skynet.fork(function()
		local subject = string.rep("a", 60)
		for _ = 1, 100000000 do
			slow:match(subject)
		end
		skynet.error("FAIL: the budget did not stop the match")
	end)
	skynet.timeout(20, function()
		assert(all:match(".A { x 0 : string }"))
		skynet.error("PASS")
	end)
end)
