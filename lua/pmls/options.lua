-- pmls.options: a script's command-line options. A script declares each
-- option with a default and a help text; values arrive typed (int, number,
-- string, boolean). Anything wrong on the command line raises a usage error
-- object ({usage = "..."}), which the `pmls` command turns into exit code 2.
local M = {}

local function usage(fmt, ...)
  error({ usage = fmt:format(...) }, 0)
end

local function flag_name(name)
  return "--" .. name:gsub("_", "-")
end

local function infer_type(default, explicit)
  if explicit then return explicit end
  local t = type(default)
  if t == "number" then return "number" end
  if t == "boolean" then return "boolean" end
  return "string"
end

local TYPES = { int = true, number = true, string = true, boolean = true }

-- Declares an option; called through app:option(name, default, help, opts).
function M.declare(list, name, default, help, opts)
  if type(name) ~= "string" or not name:match("^[%a][%w_%-]*$") then
    error(("bad argument 'name' to option (%q is not an option name)"):format(tostring(name)), 3)
  end
  if help ~= nil and type(help) ~= "string" then
    error("bad argument 'help' to option (string expected, got " .. type(help) .. ")", 3)
  end
  opts = opts or {}
  local key = name:gsub("%-", "_")
  local typ = infer_type(default, opts.type)
  if not TYPES[typ] then
    error(("bad argument 'type' to option (%q: int, number, string or boolean)"):format(tostring(typ)), 3)
  end
  if typ == "int" and default ~= nil and (type(default) ~= "number" or default % 1 ~= 0) then
    error(("bad argument 'default' to option (%s is an int option)"):format(name), 3)
  end
  if (typ == "number" or typ == "boolean") and default ~= nil and type(default) ~= typ then
    error(("bad argument 'default' to option (%s is a %s option, got a %s)"):format(
          name, typ, type(default)), 3)
  end
  for _, o in ipairs(list) do
    if o.key == key then error(("option '%s' declared twice"):format(name), 3) end
    if opts.short and o.short == opts.short then
      error(("bad argument 'short' to option (-%s is already %s)"):format(opts.short, o.flag), 3)
    end
  end
  list[#list + 1] = { key = key, flag = flag_name(key), default = default,
                      help = help or "", type = typ, short = opts.short,
                      required = opts.required }
end

local function convert(o, raw)
  if o.type == "string" then return raw end
  if o.type == "boolean" then
    if raw == "true" or raw == "1" or raw == "yes" then return true end
    if raw == "false" or raw == "0" or raw == "no" then return false end
    usage("bad value '%s' for %s: true or false expected", raw, o.flag)
  end
  local v = tonumber(raw)
  if not v or v ~= v then
    usage("bad value '%s' for %s: %s expected", raw, o.flag,
          o.type == "int" and "a whole number" or "a number")
  end
  if o.type == "int" and v % 1 ~= 0 then
    usage("bad value '%s' for %s: a whole number expected", raw, o.flag)
  end
  return v
end

-- Parses argv against the declared options. Returns the options table, or
-- nil when --help was asked for.
function M.parse(list, argv)
  local by_flag = {}
  for _, o in ipairs(list) do
    by_flag[o.flag] = o
    by_flag["--" .. o.key] = o
    if o.short then by_flag["-" .. o.short] = o end
  end
  local opt = {}
  for _, o in ipairs(list) do opt[o.key] = o.default end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "-h" or a == "--help" then return nil end
    local flag, inline = a:match("^(%-%-?[^=]+)=(.*)$")
    flag = flag or a
    local o = by_flag[flag]
    if not o then
      if flag:sub(1, 5) == "--no-" and by_flag["--" .. flag:sub(6)]
         and by_flag["--" .. flag:sub(6)].type == "boolean" and not inline then
        opt[by_flag["--" .. flag:sub(6)].key] = false
      elseif a:sub(1, 1) == "-" then
        usage("unknown option '%s'", flag)
      else
        usage("unexpected argument '%s'", a)
      end
    elseif o.type == "boolean" and not inline then
      opt[o.key] = true
    else
      local raw = inline
      if not raw then
        i = i + 1
        raw = argv[i]
        if raw == nil then usage("option %s needs a value", o.flag) end
      end
      opt[o.key] = convert(o, raw)
    end
    i = i + 1
  end
  for _, o in ipairs(list) do
    if o.required and opt[o.key] == nil then
      usage("option %s is required", o.flag)
    end
  end
  return opt
end

function M.help(list, script, description)
  local out = { ("usage: pmls run %s [options]"):format(script) }
  if description and description ~= "" then out[#out + 1] = "\n" .. description end
  out[#out + 1] = "\nScript options:"
  for _, o in ipairs(list) do
    local left = (o.short and ("-" .. o.short .. ", ") or "    ") .. o.flag
    if o.type ~= "boolean" then left = left .. " " .. o.type:upper() end
    local default = o.default == nil and "" or (" (default: " .. tostring(o.default) .. ")")
    out[#out + 1] = ("  %-26s %s%s"):format(left, o.help, default)
  end
  return table.concat(out, "\n")
end

return M
