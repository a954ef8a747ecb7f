-- A module on the case's lua_path (tests/compat/lua/pkgpath).
return { where = "lua_path" }
