-- Makes a table a reader holds hold the contents of a newer copy, in place:
-- keys gone are removed, values set, and a nested table present under the
-- same key in both is refreshed the same way, so references into it stay
-- good. For skynet.sharetable's update and skynet.datasheet's readers,
-- which copy where skynet shares memory.
local pairs, rawget, type = pairs, rawget, type

local function refresh(old, new, seen)
	seen = seen or {}
	if seen[old] then
		return old
	end
	seen[old] = true
	for k, v in pairs(old) do
		local nv = new[k]
		if not (type(v) == "table" and type(nv) == "table") then
			old[k] = nil
		end
	end
	for k, nv in pairs(new) do
		local v = rawget(old, k)
		if type(v) == "table" and type(nv) == "table" then
			refresh(v, nv, seen)
		else
			old[k] = nv
		end
	end
	return old
end

return refresh
