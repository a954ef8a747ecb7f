-- Allocates without bound while its chunk is still loading, before it ever
-- calls skynet.start: the memory limit must already hold.
local t = {}
for i = 1, math.huge do
	t[i] = string.rep("w", 1000) .. i
end
