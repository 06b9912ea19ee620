-- The sandbox every script runs in, built once per Lua VM with the full base
-- library still at hand. It returns the table of globals scripts may read
-- (KEYS and ARGV are set there for each run) and the read-only proxy that is
-- the scripts' environment.
--
-- `bridge` holds the Rust side: killed, raised, message, setresp, log, sha1hex,
-- set_repl, bit, version. It also returns the real `redis` table, whose
-- call and pcall the Rust side sets for each run.
local bridge = ...

local error, type, tostring, tonumber, rawget, rawset, setmetatable, getmetatable, select, next,
      pairs, ipairs, pcall, xpcall, loadstring, load, setfenv, unpack =
      error, type, tostring, tonumber, rawget, rawset, setmetatable, getmetatable, select, next,
      pairs, ipairs, pcall, xpcall, loadstring, load, setfenv, unpack
local sub, find = string.sub, string.find
local co_resume = coroutine.resume

-- proxy -> the table it shows, for the raw functions and pairs.
local backing = setmetatable({}, { __mode = 'k' })

local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end

local function protect(real)
  local proxy = {}
  backing[proxy] = real
  setmetatable(proxy, { __index = real, __newindex = readonly_error, __metatable = false })
  return proxy
end

local function unwrap(t)
  return backing[t] or t
end

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

-- An error table as Redis builds one: "-CODE msg" keeps its code, anything
-- else becomes "ERR msg"; CR/LF at the ends are trimmed.
local function error_table(buf)
  local code, msg = 'ERR', buf
  if sub(buf, 1, 1) == '-' then
    local space = find(buf, ' ', 1, true)
    if space then
      code, msg = sub(buf, 2, space - 1), sub(buf, space + 1)
    else
      msg = sub(buf, 2)
    end
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return { err = code .. ' ' .. msg }
end

-- A killed script must not be able to catch its own end.
local function rethrow_if_killed(...)
  if bridge.killed() then
    error('Script killed by user with SCRIPT KILL...', 0)
  end
  return ...
end

-- Redis 7's pcall hands error tables to the script as their message.
local function pcall_result(ok, ...)
  if ok or bridge.killed() then
    return rethrow_if_killed(ok, ...)
  end
  local e = ...
  if type(e) == 'table' then
    local s = rawget(e, 'err')
    if type(s) == 'string' then return false, s end
  end
  local raised = bridge.raised(e)
  if raised then return false, raised end
  return false, bridge.message(e) or e
end

-- Errors raised by the Rust side (redis.call…) reach Lua handlers as the
-- error tables Redis would raise.
local function as_error_table(e)
  local raised = bridge.raised(e)
  if raised then return { err = raised } end
  return bridge.message(e) or e
end

local env -- the scripts' global environment, below

local safe = {}
for _, name in ipairs({ 'assert', 'collectgarbage', 'error', 'gcinfo', 'getmetatable',
    'rawequal', 'select', 'setmetatable', 'tonumber', 'tostring', 'type', '_VERSION' }) do
  safe[name] = _G[name]
end
safe.rawget = function(t, k) return rawget(unwrap(t), k) end
safe.rawset = function(t, k, v)
  if backing[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
safe.next = function(t, k) return next(unwrap(t), k) end
safe.pairs = function(t) return pairs(unwrap(t)) end
safe.ipairs = function(t) return ipairs(unwrap(t)) end
safe.unpack = function(t, i, j) return unpack(unwrap(t), i, j) end
safe.pcall = function(f, ...) return pcall_result(pcall(f, ...)) end
safe.xpcall = function(f, h)
  return rethrow_if_killed(xpcall(f, function(e) return h(as_error_table(e)) end))
end
safe.loadstring = function(s, name)
  if type(s) == 'string' and sub(s, 1, 1) == '\27' then
    return nil, 'binary chunks are not allowed'
  end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
safe.load = function(reader, name)
  if type(reader) ~= 'function' then return load(reader, name) end
  local first = true
  local f, e = load(function()
    local piece = reader()
    if first and type(piece) == 'string' and piece ~= '' then
      first = false
      if sub(piece, 1, 1) == '\27' then error('binary chunks are not allowed', 0) end
    end
    return piece
  end, name)
  if f then setfenv(f, env) end
  return f, e
end

local co = copy(coroutine)
co.resume = function(...) return rethrow_if_killed(co_resume(...)) end
safe.coroutine = protect(co)
safe.string = protect(copy(string))
safe.table = protect(copy(table))
safe.math = protect(copy(math))
safe.bit = protect(bridge.bit)
safe.cjson = protect(bridge.cjson)
safe.cmsgpack = protect(bridge.cmsgpack)
safe.struct = protect(bridge.struct)

-- Scripts must not reach the real string table through the metatable of
-- strings (it is shared by every script).
getmetatable('').__metatable = safe.string

-- call and pcall are set for each run (they reach that run's transaction);
-- the functions that may raise errors are Rust functions, so a failing
-- `return redis.call(…)` still shows the script's line, as in Redis (a C
-- function called in tail position keeps its caller's frame).
local redis = {}
redis.sha1hex, redis.setresp, redis.log, redis.set_repl =
  bridge.sha1hex, bridge.setresp, bridge.log, bridge.set_repl
redis.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  if sub(s, 1, 1) ~= '-' then s = '-' .. s end
  return error_table(s)
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  return { ok = s }
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
-- Every script's writes replicate as their effects; these stay for the
-- scripts that call them.
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.replicate_commands = function() return true end
-- What Redis's debugger hooks do when no debugging session is active.
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = bridge.version
redis.REDIS_VERSION_NUM = bridge.version_num
safe.redis = protect(redis)

env = {}
backing[env] = safe
setmetatable(env, {
  __index = function(_, name)
    local v = rawget(safe, name)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})
safe._G = env
return safe, env, redis
