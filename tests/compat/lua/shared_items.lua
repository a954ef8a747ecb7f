-- Data for the sharedata case (not a case itself): a data file on the
-- lua_path, run in a data environment with its arguments.
local bonus = ...
sword = { attack = 10 + (bonus or 0) }
shield = { defence = 5 }
