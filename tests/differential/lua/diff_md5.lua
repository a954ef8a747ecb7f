-- md5 (the keplerproject lua-md5 module skynet ships in 3rd/lua-md5), case
-- by case. Run by Debian's lua5.2 with lua-md5 (Debian builds it for Lua
-- 5.1 and 5.2 only; what md5 computes does not depend on the Lua version)
-- and by skyhold (runner.lua), so this script keeps to Lua 5.2.
local md5 = require "md5"
local S = require "show"
local try = S.try

local function hex(s)
	return (s:gsub(".", function(c)
		return string.format("%02x", c:byte())
	end))
end

local inputs = {
	"", "a", "abc", "message digest", "abcdefghijklmnopqrstuvwxyz",
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	string.rep("1234567890", 8), "The quick brown fox jumps over the lazy dog",
	"\0", "\0\0\0", "\255\254\253", "caf\195\169",
}
-- Lengths around the 64-byte block and the 56-byte padding boundary.
for _, n in ipairs({ 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536 }) do
	inputs[#inputs + 1] = string.rep("x", n)
end
local all = {}
for c = 0, 255 do
	all[#all + 1] = string.char(c)
end
inputs[#inputs + 1] = table.concat(all)

for i, s in ipairs(inputs) do
	print("sumhexa." .. i, #s, md5.sumhexa(s))
	print("sum." .. i, #md5.sum(s), hex(md5.sum(s)))
end

-- exor: byte-wise xor of two strings.
print("exor.1", try(function() return hex(md5.exor("abc", "ABC")) end))
print("exor.2", try(function() return hex(md5.exor("\0\255", "\255\255")) end))
print("exor.3", try(function() return hex(md5.exor("", "")) end))

-- crypt with a given seed (without one it is seeded from the clock), and
-- decrypt back.
local msgs = { "", "x", "hello", string.rep("abcdefgh", 5), "\0\1\2\255" }
local keys = { "k", "key", string.rep("K", 100), "\0key" }
local seeds = { "", "seed", "0123456789abcdef" }
for mi, msg in ipairs(msgs) do
	for ki, key in ipairs(keys) do
		for si, seed in ipairs(seeds) do
			local name = "crypt." .. mi .. "." .. ki .. "." .. si
			local ok, c = pcall(md5.crypt, msg, key, seed)
			if ok then
				print(name, #c, hex(c), try(md5.decrypt, c, key))
			else
				print(name, try(md5.crypt, msg, key, seed))
			end
		end
	end
end
print("crypt.noseed", try(function()
	local c = md5.crypt("round trip", "key")
	return md5.decrypt(c, "key")
end))
print("decrypt.wrongkey", try(function()
	local c = md5.crypt("round trip", "key", "seed")
	return hex(md5.decrypt(c, "other"))
end))
print("decrypt.short", try(md5.decrypt, "", "key"))
print("decrypt.bad", try(md5.decrypt, "\5abc", "key"))

-- Arguments.
print("sum.num", try(md5.sumhexa, 12345))
print("sum.nil", try(md5.sum, nil))
print("sum.table", try(md5.sum, {}))
