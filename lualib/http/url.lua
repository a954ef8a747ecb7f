-- http.url for skyhold: skynet's URL helpers.
--   url.parse(u)        -> path (percent-decoded), query string
--   url.parse_query(q)  -> { name = value } (a repeated name: a list)
local string, type, tonumber = string, type, tonumber

local url = {}

local function unescape(s)
	s = s:gsub("+", " ")
	return (s:gsub("%%(%x%x)", function(hex)
		return string.char(tonumber(hex, 16))
	end))
end
url.decode = unescape

function url.parse(u)
	local path, query = u:match("^([^?]*)%??(.*)$")
	if path then
		path = unescape(path)
	end
	return path, query
end

function url.parse_query(q)
	local r = {}
	for pair in q:gmatch("[^&]+") do
		local k, v = pair:match("^([^=]*)=(.*)$")
		if k then
			k, v = unescape(k), unescape(v)
			local old = r[k]
			if old == nil then
				r[k] = v
			elseif type(old) == "table" then
				old[#old + 1] = v
			else
				r[k] = { old, v }
			end
		end
	end
	return r
end

return url
