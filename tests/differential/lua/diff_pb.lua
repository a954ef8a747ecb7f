-- lua-protobuf's pb against protoc: for each case the test lists in
-- DIFF_DIR/cases.txt (name and message type), DIFF_DIR/<name>.bin holds
-- what `protoc --encode` wrote for tests/differential/pb/<name>.txtpb, and
-- the table below holds the same message as a Lua value. Each case prints
-- whether pb.encode of the value gives protoc's bytes, and whether decoding
-- protoc's bytes and encoding the result gives them again; both go to
-- DIFF_DIR/<name>.sky.bin and <name>.again.bin for `protoc --decode`. Run by skyhold only
-- (Debian packages no lua-protobuf).
local pb = require "pb"
local S = require "show"

local values = {
	scalars_zero = {},
	scalars_small = {
		i32 = 1, i64 = 2, u32 = 3, u64 = 4, s32 = -5, s64 = -6, f32 = 7, f64 = 8,
		sf32 = -9, sf64 = -10, fl = 1.5, db = 0.1, b = true, s = "hello", by = "\0\1\255",
		color = "GREEN",
	},
	scalars_max = {
		i32 = 2147483647, i64 = math.maxinteger, u32 = 4294967295, u64 = -1,
		s32 = 2147483647, s64 = math.maxinteger, f32 = 4294967295, f64 = -1,
		sf32 = 2147483647, sf64 = math.maxinteger, fl = 3.4028234663852886e+38,
		db = 1.7976931348623157e+308, b = true,
		s = "h\195\169llo \226\130\172 \240\159\152\128", by = "\255\254\253", color = "BLUE",
	},
	scalars_min = {
		i32 = -2147483648, i64 = math.mininteger, u32 = 2147483648, u64 = math.mininteger,
		s32 = -2147483648, s64 = math.mininteger, f32 = 2147483648, f64 = math.mininteger,
		sf32 = -2147483648, sf64 = math.mininteger, fl = -0.25, db = -1e-300,
		s = "quote \" backslash \\ newline \n tab \t", color = "RED",
	},
	scalars_neg1 = {
		i32 = -1, i64 = -1, s32 = -1, s64 = -1, sf32 = -1, sf64 = -1, fl = 16777216,
		db = 123456789.125, s = "", by = "",
	},
	lists = {
		ints = { 1, -1, 0, 300, 2147483647, -2147483648 },
		zigzags = { 0, -1, 1, -64, 64, math.maxinteger, math.mininteger },
		doubles = { 0.0, 1.5, -2.25, 1e100 },
		flags = { true, false, true },
		names = { "a", "", "ccc" },
		blobs = { "\0", "\255\1" },
		items = { { id = 1, name = "one" }, { id = 2 }, {} },
		colors = { "RED", "COLOR_NONE", "BLUE", "GREEN" },
		fixeds = { 1, 4294967295 },
	},
	lists_one = { ints = { 0 }, names = { "" }, items = { {} } },
	nested = {
		inner = { id = 1, name = "top" },
		depth = 0,
		child = {
			depth = 1,
			child = { depth = 2, inner = { id = 3 }, child = { depth = 3, text = "deep" } },
			number = -42,
		},
		other = { name = "choice" },
	},
	oneof_zero = { number = 0 },
	oneof_empty_text = { text = "" },
	maps = {
		counts = { gold = 100 },
		names = { [-5] = "minus five" },
		items = { sword = { id = 9, name = "Excalibur" } },
	},
	maps_zero = { counts = { [""] = 0 } },
	big_tags = { low = 1, far = "the largest field number", mid = 16, two_byte_tag = 2047 },
	empty = {},
	legacy_min = { id = 0 },
	legacy_full = {
		id = -7, label = "label", count = 0, kind = "MINUS", plain = { 1, 2, 3 },
		packed = { 4, 5, -6 }, ratio = 0.0, on = false, kinds = { "ZERO", "ONE", "MINUS" },
		raw = "\0raw", big = -9007199254740993,
	},
}

local function slurp(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("a")
	f:close()
	return s
end

local D = DIFF_DIR
print("load", S.all(pb.load(slurp(D .. "/diff.pb"))))
-- Fields in the type's order, as protoc writes them (without it, in the
-- order `next` visits the table).
pb.option "encode_order"
for line in io.lines(D .. "/cases.txt") do
	local name, ty = line:match("^(%S+) (%S+)$")
	local value = values[name]
	local ref = slurp(D .. "/" .. name .. ".bin")
	if value == nil then
		print(name, "no Lua value for this case")
	else
		local ok, ours = pcall(pb.encode, ty, value)
		if not ok then
			print(name, "encode failed", S.str(ours))
		else
			print(name, ours == ref and "same" or "DIFFERENT", "ours=" .. pb.tohex(ours), "protoc=" .. pb.tohex(ref))
			local f = assert(io.open(D .. "/" .. name .. ".sky.bin", "wb"))
			f:write(ours)
			f:close()
		end
		local dok, decoded = pcall(pb.decode, ty, ref)
		if not dok then
			print(name .. "/decode", "decode failed", S.str(decoded))
		else
			local again = pb.encode(ty, decoded)
			local f = assert(io.open(D .. "/" .. name .. ".again.bin", "wb"))
			f:write(again)
			f:close()
			print(name .. "/decode", again == ref and "same" or "DIFFERENT", "again=" .. pb.tohex(again),
				S.show(decoded))
		end
	end
end
