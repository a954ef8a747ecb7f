-- A module in the luaservice directory only, found once a service puts that
-- directory in package.path (as skynet's examples/protoloader.lua does).
return { where = "luaservice" }
