-- skyhold's protoc.lua against protoc: for each file named in
-- DIFF_DIR/protoc_cases.txt, the descriptor set our protoc.lua compiles
-- (with its imports) and the one `protoc -o --include_imports` wrote
-- (<name>.pb) are decoded with pb and compared value by value, then each
-- is loaded into a fresh pb state and the types and fields pb lists are
-- compared, and again once pb has loaded the file (its custom options
-- known). Then the types of our built-in descriptor.proto must be those
-- of protoc's own (descriptor.pb), field for field. Lines: `<case>\tsame`
-- or `<case>\tDIFFERENT\t<what>`.
local pb = require "pb"
local protoc = require "protoc"

local dir = DIFF_DIR

local function read(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read "a"
	f:close()
	return s
end

local function show(v)
	if type(v) == "string" then
		return string.format("%q", v)
	end
	return tostring(v)
end

-- Every difference between two decoded values, as "path: ours vs theirs".
local function diff(a, b, path, out)
	if type(a) ~= type(b) then
		out[#out + 1] = path .. ": " .. show(a) .. " vs " .. show(b)
	elseif type(a) == "table" then
		local keys, seen = {}, {}
		for _, t in ipairs { a, b } do
			for k in pairs(t) do
				if not seen[k] then
					seen[k] = true
					keys[#keys + 1] = k
				end
			end
		end
		table.sort(keys, function(x, y)
			return tostring(x) < tostring(y)
		end)
		for _, k in ipairs(keys) do
			diff(a[k], b[k], path .. "." .. tostring(k), out)
		end
	elseif a ~= b and not (a ~= a and b ~= b) then
		out[#out + 1] = path .. ": " .. show(a) .. " vs " .. show(b)
	end
end

-- The set's files but descriptor.proto (protoc has the whole file; ours
-- is the part pb needs, compared on its own below).
local function decode_set(bytes)
	pb.option "no_default_values"
	local set = pb.decode(".google.protobuf.FileDescriptorSet", bytes)
	pb.option "auto_default_values"
	local files = {}
	for _, f in ipairs(set.file or {}) do
		if f.name ~= "google/protobuf/descriptor.proto" then
			files[#files + 1] = f
		end
	end
	set.file = files
	return set
end

-- What pb lists of a descriptor set loaded into a fresh state, sorted.
local function listing(bytes, descriptor_too)
	local old = pb.state(nil)
	local ok, err = pcall(pb.load, bytes)
	local lines = {}
	if not ok or not err then
		lines[1] = "load failed: " .. tostring(err)
	else
		for name, _, kind in pb.types() do
			if name:find "^%.google%.protobuf%." and not descriptor_too then
				goto continue
			end
			lines[#lines + 1] = name .. " " .. kind
			for fname, number, ftype, default, label, oneof in pb.fields(name) do
				lines[#lines + 1] = string.format("%s.%s %s %s %s %s %s", name, fname, number, ftype,
					show(default), label, tostring(oneof))
			end
			::continue::
		end
	end
	pb.state(old)
	table.sort(lines)
	return lines
end

local function report(case, out)
	if #out == 0 then
		print(case, "same")
	else
		print(case, "DIFFERENT", table.concat(out, "; "))
	end
end

for name in read(dir .. "/protoc_cases.txt"):gmatch "[^\n]+" do
	local p = protoc.new()
	p.include_imports = true
	p.paths = { dir }
	local ok, ours = pcall(p.compilefile, p, name)
	if not ok then
		print(name, "ERROR", ours)
	else
		local theirs = read(dir .. "/" .. name .. ".pb")
		local out = {}
		diff(decode_set(ours), decode_set(theirs), "set", out)
		report(name, out)
		out = {}
		local a, b = listing(ours), listing(theirs)
		for i = 1, math.max(#a, #b) do
			if a[i] ~= b[i] then
				out[#out + 1] = tostring(a[i]) .. " vs " .. tostring(b[i])
			end
		end
		report(name .. "/pb", out)
		-- Once pb knows the file's own extensions (custom options), a
		-- second compile keeps their values, and decoding protoc's set
		-- reads them too: the two must still agree.
		assert(pb.load(ours))
		local again = protoc.new()
		again.include_imports = true
		again.paths = { dir }
		out = {}
		diff(decode_set(again:compilefile(name)), decode_set(theirs), "set", out)
		report(name .. "/again", out)
	end
end

-- Our descriptor.proto: every type and field it has, protoc's has alike.
local f = io.open(dir .. "/descriptor.pb", "rb")
if f then
	f:close()
	local ours = listing(protoc:compile(protoc.descriptor_text, "google/protobuf/descriptor.proto"), true)
	local theirs = {}
	for _, l in ipairs(listing(read(dir .. "/descriptor.pb"), true)) do
		theirs[l] = true
	end
	local out = {}
	for _, l in ipairs(ours) do
		if not theirs[l] then
			out[#out + 1] = l
		end
	end
	report("descriptor.proto", out)
	print("descriptor.proto/count", #ours)
end
