-- The sproto schema parser: schema text to the binary sproto.core loads,
-- the same bytes and errors as skynet's sprotoparser (which is written on
-- lpeg; this one calls skyhold's native parser).
local native = require "sproto.parser"

local sparser = {}

-- Prints `str` as hex, sixteen bytes a line.
function sparser.dump(str)
	local line = {}
	for i = 1, #str do
		line[#line + 1] = string.format("%02X ", str:byte(i))
		if i % 16 == 0 then
			print(table.concat(line))
			line = {}
		elseif i % 8 == 0 then
			line[#line + 1] = "- "
		end
	end
	print(table.concat(line))
end

function sparser.parse(text, name)
	return native.parse(text, name or "=text")
end

return sparser
