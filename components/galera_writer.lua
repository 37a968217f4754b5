-- The writer choice of the load balancer (loaded by haproxy.cfg with `lua-load`). A template:
-- components/haproxy_config.py `writer_script` fills in the names of the two listeners and
-- the interval, at the at-sign placeholders (HAProxy 2.6 takes `lua-load` arguments but hands
-- the script none).
--
-- Every HAProxy replica must send writes to the SAME Galera node, or transactions on two
-- nodes conflict at certification (error 1213). HAProxy 2.6 (Debian bookworm) has no
-- `hash-key addr` (2.7+): its consistent-hash ring follows the server slots, which DNS
-- fills in a different order on each replica. So the choice is a pure function of what
-- every replica sees alike: among the nodes the reader listener's health checks call
-- Synced (status UP), the one with the LOWEST address. Applied every INTERVAL_MS as weights
-- in the writer listener: 1 for the chosen node, 0 for every other (weight 0 takes no new
-- connection); the sessions of a node that lost the role are closed, so one node takes
-- writes at a time. Each change is one log line, and the weights show in the stats page.
local reader_name, writer_name, interval_ms = "@{reader_proxy}", "@{writer_proxy}", @{writer_interval_ms}

-- "10.0.1.7:3306" -> "10.0.1.7"; "[2001:db8::7]:3306" or "2001:db8::7:3306" -> the address.
local function host_of(addr)
  if not addr then return nil end
  return addr:match("^%[(.*)%]:%d+$") or addr:match("^(.*):%d+$") or addr
end

-- A key that sorts addresses numerically (IPv4 first), the same on every replica.
local function sort_key(ip)
  local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a then
    return string.format("4 %03d.%03d.%03d.%03d", tonumber(a), tonumber(b), tonumber(c), tonumber(d))
  end
  return "6 " .. ip
end

-- The addresses of the Synced nodes (reader servers UP, also "UP 1/2": not yet marked down).
local function synced(reader)
  local out = {}
  for _, server in pairs(reader.servers) do
    local status = server:get_stats()["status"] or ""
    local ip = host_of(server:get_addr())
    if status:sub(1, 2) == "UP" and ip and ip ~= "0.0.0.0" and ip ~= "::" then
      out[#out + 1] = ip
    end
  end
  return out
end

local function lowest(addresses)
  local best
  for _, ip in ipairs(addresses) do
    if best == nil or sort_key(ip) < sort_key(best) then best = ip end
  end
  return best
end

-- Weight 1 for the server at `chosen`, 0 for the others; close the sessions a server holds
-- when it loses the role.
local function apply(writer, chosen)
  for _, server in pairs(writer.servers) do
    local wanted = (chosen ~= nil and host_of(server:get_addr()) == chosen) and 1 or 0
    local weight = server:get_weight()
    if weight ~= wanted then
      server:set_weight(tostring(wanted))
      if wanted == 0 and weight > 0 then server:shut_sess() end
    end
  end
end

core.register_task(function()
  local current
  while true do
    local reader, writer = core.backends[reader_name], core.backends[writer_name]
    if reader and writer then
      local addresses = synced(reader)
      local chosen = lowest(addresses)
      if chosen ~= current then
        core.Warning(string.format("galera writer: %s -> %s (the lowest address of %d Synced nodes)",
          current or "none", chosen or "none", #addresses))
        current = chosen
      end
      -- Every round, not only on a change: DNS may move an address to another slot.
      apply(writer, chosen)
    end
    core.msleep(interval_ms)
  end
end)
