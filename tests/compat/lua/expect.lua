-- Helpers the compat cases share.
local expect = {}

-- Calls f(...) and asserts it raises an error whose text contains `text`.
function expect.fails(text, f, ...)
	local ok, err = pcall(f, ...)
	assert(not ok, "expected an error matching " .. text)
	assert(tostring(err):find(text, 1, true), "got: " .. tostring(err) .. " expected: " .. text)
end

return expect
