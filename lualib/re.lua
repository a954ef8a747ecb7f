-- re: regex-like syntax for LPeg patterns (LPeg 1.1's `re` module API:
-- compile, match, find, gsub, updatelocale).
--
-- skyhold's own implementation: a hand-written recursive-descent reader of
-- the `re` syntax that builds lpeg patterns as it reads.

local lpeg = require "lpeg"
local P, R, S, V, C, Cb, Cc, Cg, Cp, Cs, Ct, Cf, Cmt =
  lpeg.P, lpeg.R, lpeg.S, lpeg.V, lpeg.C, lpeg.Cb, lpeg.Cc, lpeg.Cg,
  lpeg.Cp, lpeg.Cs, lpeg.Ct, lpeg.Cf, lpeg.Cmt
local type, error, tonumber, setmetatable = type, error, tonumber, setmetatable
local sub, find = string.sub, string.find

local any = P(1)
local classes = {}        -- %names: the locale's classes and their letters
local cache_match, cache_find, cache_gsub

local letters = {
  a = "alpha", c = "cntrl", d = "digit", g = "graph", l = "lower",
  p = "punct", s = "space", u = "upper", w = "alnum", x = "xdigit",
}

local function updatelocale()
  classes = lpeg.locale({ nl = P"\n" })
  for letter, name in pairs(letters) do
    classes[letter] = classes[name]
    classes[letter:upper()] = any - classes[name]
  end
  local weak = { __mode = "v" }
  cache_match = setmetatable({}, weak)
  cache_find = setmetatable({}, weak)
  cache_gsub = setmetatable({}, weak)
end
updatelocale()

-- The reader: `src` is the text, `pos` where it reads, `defs` the user's
-- definitions, `ingrammar` whether rule names may be referred to.
local Reader = {}
Reader.__index = Reader

function Reader:fail(at)
  local s = self.src
  local near = (#s < at + 20) and sub(s, at) or (sub(s, at, at + 20) .. "...")
  error(("pattern error near '%s'"):format(near), 0)
end

-- Skips spaces and `--` comments.
function Reader:skip()
  local s, i = self.src, self.pos
  while true do
    local _, e = find(s, "^[ \t\n\v\f\r]+", i)
    if e then i = e + 1 end
    if sub(s, i, i + 1) == "--" then
      local nl = find(s, "\n", i + 2, true)
      i = nl and nl + 1 or #s + 1
    elseif not e then
      break
    end
  end
  self.pos = i
end

function Reader:peek(text)
  return sub(self.src, self.pos, self.pos + #text - 1) == text
end

function Reader:take(text)
  if self:peek(text) then
    self.pos = self.pos + #text
    return true
  end
  return false
end

function Reader:name_at(i)
  return self.src:match("^[A-Za-z_][A-Za-z0-9_]*", i)
end

-- True if a rule definition (`name <-`) starts at `i`.
function Reader:definition_at(i)
  local n = self:name_at(i)
  if not n then return false end
  local saved = self.pos
  self.pos = i + #n
  self:skip()
  local yes = self:peek("<-")
  self.pos = saved
  return yes
end

function Reader:name()
  local n = self:name_at(self.pos)
  if not n then self:fail(self.pos) end
  self.pos = self.pos + #n
  return n
end

function Reader:def(name)
  local d = self.defs and self.defs[name]
  if not d then error("undefined name: " .. name) end
  return d
end

function Reader:string()
  local q = sub(self.src, self.pos, self.pos)
  if q ~= "'" and q ~= '"' then return nil end
  local close = find(self.src, q, self.pos + 1, true)
  if not close then return nil end
  local text = sub(self.src, self.pos + 1, close - 1)
  self.pos = close + 1
  return text
end

function Reader:number()
  local digits = self.src:match("^%d+", self.pos)
  if not digits then return nil end
  self.pos = self.pos + #digits
  self:skip()
  return tonumber(digits)
end

-- `%name`: a user definition or a predefined class.
function Reader:defined()
  local n = self:name()
  local c = (self.defs and self.defs[n]) or classes[n]
  if not c then error("name '" .. n .. "' undefined") end
  return c
end

function Reader:class_item(first)
  local s, i = self.src, self.pos
  if i > #s then return nil end
  if sub(s, i, i) == "%" and self:name_at(i + 1) then
    self.pos = i + 1
    return self:defined()
  end
  local c = sub(s, i, i)
  if sub(s, i + 1, i + 1) == "-" and i + 2 <= #s and sub(s, i + 2, i + 2) ~= "]" then
    self.pos = i + 3
    return R(c .. sub(s, i + 2, i + 2))
  end
  if c == "]" and not first then return nil end
  self.pos = i + 1
  return P(c)
end

function Reader:class(start)
  local complement = self:take("^")
  local p = self:class_item(true)
  while p do
    local item = self:class_item(false)
    if not item then break end
    p = p + item
  end
  if not p or not self:take("]") then self:fail(start) end
  if complement then return any - p end
  return p
end

-- The expression up to `close`, made into a pattern by `make`; without
-- the closing text, nil and the reader back at `start` (the alternative
-- fails, as a PEG's does, and the next one is tried).
function Reader:enclosed(close, make, start)
  local p = self:exp()
  if not self:take(close) then
    self.pos = start
    return nil
  end
  return make(p)
end

local function same(p) return p end

-- `{~ ~}`, `{| |}` and `{ }`: the opening, the closing, the capture.
local braces = { { "{~", "~}", Cs }, { "{|", "|}", Ct }, { "{", "}", C } }

function Reader:primary()
  local s, i = self.src, self.pos
  local c = sub(s, i, i)
  if c == "(" then
    self.pos = i + 1
    return self:enclosed(")", same, i)
  elseif c == "'" or c == '"' then
    local text = self:string()
    if not text then self:fail(i) end
    return P(text)
  elseif c == "[" then
    self.pos = i + 1
    return self:class(i)
  elseif c == "%" and self:name_at(i + 1) then
    self.pos = i + 1
    return self:defined()
  elseif c == "{" then
    -- The alternatives that start with a brace, in re's order: when one
    -- fails the next is tried from the same place, so an unclosed `{~`
    -- is read again as `{` and fails inside (`near '~ ...'`), as in re.
    if self:take("{:") then
      local n
      local nm = self:name_at(self.pos)
      if nm and sub(s, self.pos + #nm, self.pos + #nm) == ":" then
        n = nm
        self.pos = self.pos + #nm + 1
      end
      local p = self:enclosed(":}", function(q) return Cg(q, n) end, i)
      if p then return p end
    end
    if self:take("{}") then return Cp() end
    for _, b in ipairs(braces) do
      if self:take(b[1]) then
        local p = self:enclosed(b[2], b[3], i)
        if p then return p end
      end
    end
    return nil
  elseif c == "=" and self:name_at(i + 1) then
    self.pos = i + 1
    local n = self:name()
    return Cmt(Cb(n), function(subject, at, value)
      if type(value) ~= "string" then return nil end
      local e = at + #value
      if sub(subject, at, e - 1) == value then return e end
      return nil
    end)
  elseif c == "." then
    self.pos = i + 1
    return any
  end
  local n
  if c == "<" and self:name_at(i + 1) then
    self.pos = i + 1
    n = self:name()
    if not self:take(">") then
      self.pos = i
      return nil
    end
  elseif self:name_at(i) and not self:definition_at(i) then
    n = self:name()
  else
    return nil
  end
  if not self.ingrammar then
    error("rule '" .. n .. "' used outside a grammar")
  end
  return V(n)
end

-- A grammar's table made a pattern. The original re makes it from C (a
-- function capture), where LPeg's errors find no Lua caller to name:
-- `rule 'a' may be left recursive` has no position in front. (Its other
-- operators run in a Lua function of re's, so theirs have one, as here.)
local function grammar_pattern(rules)
  local ok, g = pcall(P, rules)
  if not ok then error(g, 0) end
  return g
end

local function times(p, n)
  local r = P(true)
  for _ = 1, n do r = r * p end
  return r
end

function Reader:suffix()
  local p = self:primary()
  if not p then return nil end
  self:skip()
  while true do
    -- Where this suffix starts: an operator without what must follow it
    -- is not read, and the sequence ends before it.
    local at = self.pos
    if self:take("+") then p = p ^ 1
    elseif self:take("*") then p = p ^ 0
    elseif self:take("?") then p = p ^ -1
    elseif self:take("^") then
      local signed = self.src:match("^[+-]%d+", self.pos)
      if signed then
        self.pos = self.pos + #signed
        p = p ^ tonumber(signed)
      else
        local n = self:number()
        if not n then
          self.pos = at
          break
        end
        p = times(p, n)
      end
    elseif self:take("->") then
      self:skip()
      local text = self:string()
      if text then p = p / text
      elseif self:take("{}") then p = Ct(p)
      else
        local n = self:number()
        if n then p = p / n
        elseif self:name_at(self.pos) then p = p / self:def(self:name())
        else
          self.pos = at
          break
        end
      end
    elseif self:take("=>") or self:take(">>") or self:take("~>") then
      local kind = sub(self.src, at, at + 1)
      self:skip()
      if not self:name_at(self.pos) then
        self.pos = at
        break
      end
      local f = self:def(self:name())
      if kind == "=>" then p = Cmt(p, f)
      elseif kind == ">>" then p = p % f
      else p = Cf(p, f) end
    else
      break
    end
    self:skip()
  end
  return p
end

function Reader:prefix()
  local at = self.pos
  if self:take("&") or self:take("!") then
    local op = sub(self.src, at, at)
    self:skip()
    local p = self:prefix()
    if not p then
      -- Not a prefix: the sequence ends before the operator.
      self.pos = at
      return nil
    end
    if op == "&" then return #p end
    return -p
  end
  return self:suffix()
end

local follows = { "/", ")", "}", ":}", "~}", "|}" }

function Reader:seq()
  local p = P""
  while true do
    local q = self:prefix()
    if not q then break end
    p = p * q
  end
  local ok = self.pos > #self.src or self:definition_at(self.pos)
  for _, f in ipairs(follows) do ok = ok or self:peek(f) end
  if not ok then self:fail(self.pos) end
  return p
end

function Reader:grammar()
  local rules, outer = {}, self.ingrammar
  self.ingrammar = true
  while self:definition_at(self.pos) do
    local n = self:name()
    self:skip()
    self:take("<-")
    local body = self:exp()
    if rules[1] == nil then rules[1] = n end
    if rules[n] then error("'" .. n .. "' already defined as a rule") end
    rules[n] = body
  end
  self.ingrammar = outer
  return grammar_pattern(rules)
end

function Reader:exp()
  self:skip()
  if self:definition_at(self.pos) then return self:grammar() end
  local p = self:seq()
  while self:take("/") do
    self:skip()
    p = p + self:seq()
  end
  return p
end

local function compile(p, defs)
  if lpeg.type(p) == "pattern" then return p end
  local r = setmetatable({ src = p, pos = 1, defs = defs, ingrammar = false }, Reader)
  local pat = r:exp()
  if r.pos <= #p then r:fail(r.pos) end
  if not pat then error("incorrect pattern", 2) end
  return pat
end

local function match(s, p, i)
  local cp = cache_match[p]
  if not cp then
    cp = compile(p)
    cache_match[p] = cp
  end
  return cp:match(s, i or 1)
end

local function refind(s, p, i)
  local cp = cache_find[p]
  if not cp then
    cp = compile(p) / 0
    cp = P{ Cp() * cp * Cp() + 1 * V(1) }
    cache_find[p] = cp
  end
  local b, e = cp:match(s, i or 1)
  if b then return b, e - 1 end
  return b
end

local function gsub(s, p, rep)
  local g = cache_gsub[p] or {}
  cache_gsub[p] = g
  local cp = g[rep]
  if not cp then
    cp = Cs((compile(p) / rep + 1) ^ 0)
    g[rep] = cp
  end
  return cp:match(s)
end

return {
  compile = compile,
  match = match,
  find = refind,
  gsub = gsub,
  updatelocale = updatelocale,
}
