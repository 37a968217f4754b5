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
-- Synced (status UP and a last check that passed or went unanswered: `is_synced`) for HOLD
-- seconds without a break, the one
-- with the LOWEST address (see `choose`). Applied every INTERVAL_MS as weights
-- in the writer listener: 1 for the chosen node, 0 for every other (weight 0 takes no new
-- connection); the sessions of a node that lost the role are closed, so one node takes
-- writes at a time. Each change is one log line, and the weights show in the stats page.
local reader_name, writer_name, interval_ms = "@{reader_proxy}", "@{writer_proxy}", @{writer_interval_ms}
-- The failback hold-down (s): how long a node must have been Synced to take the role.
local hold_s = @{writer_hold_s}

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

-- Checks that got no answer in time (a busy host, a lost packet): HAProxy's `fall` decides
-- whether the node is gone, so one of them does not take the role away on one replica only
-- (the others would keep the node: two writers, 1213s). A refused connection (L4CON) is an
-- answer: nothing listens there any more.
local unanswered = {L4TOUT = true, L6TOUT = true, L7TOUT = true, SOCKERR = true}

-- HAProxy 2.6 marks a server UP as soon as DNS gives it an address, before its first check:
-- Synced is status UP (also "UP 1/2") AND a last check that passed (`check_status` L7OK,
-- "* L7OK" while the next check runs: HAProxy's stats fields, which Server:get_stats() returns)
-- or went unanswered. A check the node answered otherwise (L7STS: not Synced, or draining for
-- a shutdown) takes it out at once.
local function is_synced(status, check_status)
  local check = (check_status or ""):gsub("^%* ", "")
  return (status or ""):sub(1, 2) == "UP" and (check == "L7OK" or unanswered[check] == true)
end

-- The addresses of the Synced nodes among `servers` ({addr=, status=, check_status=} each).
local function synced(servers)
  local out = {}
  for _, server in ipairs(servers) do
    local ip = host_of(server.addr)
    if is_synced(server.status, server.check_status) and ip and ip ~= "0.0.0.0" and ip ~= "::" then
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

-- The writer, a pure function of what this replica sees (times in seconds):
--   servers: the reader's servers, {addr=, status=, check_status=} each;
--   synced_since: address -> since when this replica sees it Synced without a break (as the
--   last call gave it back; {} when the replica starts); now; started: when this replica
--   started; hold: hold_s.
-- A node is eligible once Synced for `hold` without a break: a blip on the lowest node does
-- not move the writer away and back, and a node that comes back takes the role after the hold
-- on every replica alike. A replica younger than `hold` cannot know for how long a node was
-- Synced: it counts every node it finds Synced then as Synced for long (else the first node
-- its checks pass would take the role for a moment at the end of the hold). The lowest
-- eligible address wins; with none eligible, the lowest Synced one (a failover waits for no
-- hold). `usable` (address -> true; nil: every address) holds the addresses the writer
-- listener has a server for: its slots follow DNS on their own schedule, so a node the reader
-- already checks Synced may have no writer slot yet, and choosing it would leave the writer
-- with no server at all ("no server available") until DNS catches up. Gives the address (nil:
-- no Synced node), the new synced_since and the number of Synced nodes.
local function choose(servers, synced_since, now, started, hold, usable)
  local addresses, since, eligible, candidates = synced(servers), {}, {}, {}
  for _, ip in ipairs(addresses) do
    since[ip] = synced_since[ip] or (now - started < hold and started - hold) or now
    if usable == nil or usable[ip] then
      candidates[#candidates + 1] = ip
      if now - since[ip] >= hold then eligible[#eligible + 1] = ip end
    end
  end
  return lowest(eligible) or lowest(candidates), since, #addresses
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

local function seconds(t) return t.sec + t.usec / 1e6 end

local function reader_servers(reader)
  local out = {}
  for _, server in pairs(reader.servers) do
    local stats = server:get_stats()
    out[#out + 1] = {addr = server:get_addr(), status = stats["status"], check_status = stats["check_status"]}
  end
  return out
end

-- The addresses the writer listener's slots hold now (resolved, not in maintenance, which is
-- where a slot whose address left DNS waits).
local function writer_addresses(writer)
  local out = {}
  for _, server in pairs(writer.servers) do
    local ip = host_of(server:get_addr())
    local status = server:get_stats()["status"] or ""
    if ip and ip ~= "0.0.0.0" and ip ~= "::" and status:sub(1, 5) ~= "MAINT" then out[ip] = true end
  end
  return out
end

if not core then
  -- Outside HAProxy (tests/unit/test_galera_writer.py): the pure parts, for table tests.
  return {choose = choose, is_synced = is_synced}
end

core.register_task(function()
  local current, synced_since, started = nil, {}, seconds(core.now())
  while true do
    local reader, writer = core.backends[reader_name], core.backends[writer_name]
    if reader and writer then
      local chosen, count
      chosen, synced_since, count = choose(reader_servers(reader), synced_since, seconds(core.now()),
        started, hold_s, writer_addresses(writer))
      if chosen ~= current then
        core.Warning(string.format("galera writer: %s -> %s (the lowest address of %d Synced nodes, Synced for %ds or more if any)",
          current or "none", chosen or "none", count, hold_s))
        current = chosen
      end
      -- Every round, not only on a change: DNS may move an address to another slot.
      apply(writer, chosen)
    end
    core.msleep(interval_ms)
  end
end)
