-- lua-protobuf's protoc.lua API (skyhold's lualib/protoc.lua) in services:
-- a server and a client each turn the same .proto text into descriptors
-- at run time and talk protobuf through skynet messages; the API's
-- variants (class and instance calls, parse, compile, include_imports,
-- unknown_import, unknown_type, on_import) and its errors.
local skynet = require "skynet"
local pb = require "pb"
local protoc = require "protoc"
local expect = require "expect"

local mode = ...

local SCHEMA = [[
syntax = "proto3";
package chat;

// a comment /* and */ "quotes" in comments are skipped
message Say {
  string from = 1;
  string text = 2;
  repeated uint32 to = 3;
  map<string, int64> tags = 4;
  optional int32 priority = 5;
  oneof extra {
    string mood = 6;
    Say quoted = 7;
  }
  Kind kind = 8;
  enum Kind { PLAIN = 0; SHOUT = 1; }
}

message Ack {
  bool ok = 1;
  uint64 seq = 2;
}
]]

if mode == "server" then
	skynet.start(function()
		assert(protoc:load(SCHEMA, "chat.proto"))
		local seq = 0
		skynet.dispatch("lua", function(_, _, bin)
			local say = pb.decode("chat.Say", bin)
			seq = seq + 1
			local ok = say.from == "ann" and say.kind == "SHOUT" and say.tags.n == 3
				and #say.to == 3 and say.priority == 0 and say._priority == "priority"
				and say.extra == "quoted" and say.quoted.text == "inner"
			skynet.retpack(pb.encode("chat.Ack", { ok = ok, seq = seq }))
		end)
	end)
else
	skynet.start(function()
		-- an instance, as most projects use it
		local p = protoc.new()
		assert(p:load(SCHEMA, "chat.proto"))
		local server = skynet.newservice("protoc_service", "server")
		local msg = pb.encode("chat.Say", {
			from = "ann", text = "hi", to = { 1, 2, 3 }, tags = { n = 3 },
			priority = 0, kind = "SHOUT", quoted = { text = "inner" },
		})
		local ack = pb.decode("chat.Ack", skynet.call(server, "lua", msg))
		assert(ack.ok == true and ack.seq == 1, "the server did not read the message")

		-- parse gives the FileDescriptorProto as a table
		local info = protoc.new():parse(SCHEMA, "chat.proto")
		assert(info.package == "chat" and info.syntax == "proto3")
		local say = info.message_type[1]
		assert(say.name == "Say" and say.field[4].type_name == ".chat.Say.TagsEntry")
		assert(say.nested_type[1].options.map_entry == true)
		assert(say.field[5].proto3_optional == true and say.oneof_decl[2].name == "_priority")
		assert(say.field[8].type == 14 and say.field[8].type_name == ".chat.Say.Kind")

		-- compile gives the bytes of a FileDescriptorSet pb reads
		local set = pb.decode("google.protobuf.FileDescriptorSet", protoc:compile(SCHEMA, "x.proto"))
		assert(set.file[1].name == "x.proto" and set.file[1].message_type[2].name == "Ack")

		-- imports: include_imports puts them in the set, unknown_import
		-- supplies files the service cannot read, on_import sees them
		local q = protoc.new()
		q.include_imports = true
		local seen = {}
		q.on_import = function(f) seen[#seen + 1] = f.name end
		q.unknown_import = function(self, name)
			assert(name == "common.proto")
			return self:parse('syntax = "proto2"; package common; message Id { required int64 v = 1; }', name)
		end
		assert(q:load([[
			syntax = "proto2";
			import "common.proto";
			message User { optional common.Id id = 1; optional string name = 2 [default = "anon"]; }
		]], "user.proto"))
		assert(seen[1] == "common.proto")
		local u = pb.decode("User", pb.encode("User", { id = { v = 42 } }))
		assert(u.id.v == 42 and select(4, pb.field("User", "name")) == "anon")
		local bytes = q:compile('syntax = "proto2"; import "common.proto"; message Y {}', "y.proto")
		local files = pb.decode("google.protobuf.FileDescriptorSet", bytes).file
		assert(#files == 2 and files[1].name == "common.proto" and files[2].name == "y.proto",
			"an import seen before is in the set again, as with lua-protobuf")

		-- unknown_type: a name nobody defines becomes a message type
		local r = protoc.new()
		r.unknown_type = true
		assert(r:load('syntax = "proto3"; message Z { Elsewhere e = 1; }', "z.proto"))
		assert(select(3, pb.field("Z", "e")) == ".Elsewhere")

		-- files are read only under the node's file roots; here there are none
		expect.fails("module load error: nothere.proto", protoc.loadfile, protoc.new(), "nothere.proto")

		-- errors name the file, line and column
		local function bad(text, msg)
			expect.fails(msg, protoc.load, protoc.new(), text, "bad.proto")
		end
		bad('syntax = "proto3";\nmessage A { int32 x = }', "bad.proto:2:23: field number expected, got '}'")
		-- what lua-protobuf's protoc.lua takes loads here too, though protoc
		-- refuses it: no semicolons, proto3 enums not starting at zero,
		-- proto3 required fields, packed maps, unknown bool defaults
		assert(protoc.new():parse('message A { optional int32 x = 1 optional int32 y = 2 } enum E { Z = 0 }', "semi.proto"))
		assert(protoc.new():load([[
			syntax = "proto3";
			enum E { ONE = 1; }
			message L { required int32 x = 1; map<string, int32> m = 2 [packed = true]; }
		]], "lenient3.proto"))
		assert(protoc.new():load('message B { optional bool b = 1 [default = maybe]; }', "lenient2.proto"))
		bad('syntax = "proto3";\nmessage A { Nope x = 1; }', "bad.proto:2:18: unknown type 'Nope'")
		bad('syntax = "proto2";\nmessage A { optional int32 x = 1; optional int32 y = 1; }',
			"field number 1 has already been used in 'A' by field 'x'")
		bad('syntax = "proto2";\nmessage A { int32 x = 1; }', "expected 'required', 'optional', or 'repeated'")
		bad('message A { optional int32 x = 0; }', "field numbers must be positive integers")
		bad('message A { optional int32 x = 1 [default = 9999999999]; }', "integer out of range")
		bad('message A { reserved 2; optional int32 x = 2; }', "uses reserved number 2")
		bad('message A { /* open', "unfinished comment")
		bad('message A { optional string s = 1 [default = "abc\n"]; }', "unfinished string")
		bad('syntax = "proto4";', "unrecognized syntax identifier 'proto4'")
		bad('message A {} message A {}', "'A' is already defined")
		bad('message A { optional group G = 1 {} }', "groups are not supported")

		-- the real skynet way: pb states are per service
		expect.fails("does not exists", pb.encode, "chat.Nothing", {})
		skynet.error("PASS")
	end)
end
