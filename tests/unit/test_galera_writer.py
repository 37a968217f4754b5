"""Table tests of the writer choice (components/galera_writer.lua `choose`), run by a Lua
interpreter outside HAProxy: the script hands back its pure functions when there is no `core`."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.haproxy_config import WRITER_HOLD_SECONDS, writer_script

# Debian's Lua (scripts/test.sh install_test_tools installs it); HAProxy 2.6 embeds 5.3/5.4.
LUA = "lua5.4"
HOLD = WRITER_HOLD_SECONDS


def lua_value(value) -> str:
    """A Lua literal for None, numbers, strings, lists and dicts (string keys)."""
    if value is None:
        return "nil"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"


DRIVER = """
local writer = assert(load(io.read("a"), "galera_writer.lua"))()
local since = {}
for _, round in ipairs(ROUNDS) do
  local chosen
  chosen, since = writer.choose(round.servers, since, round.now, STARTED, HOLD, round.usable)
  print(chosen or "none")
end
"""


def choices(rounds: list[tuple], started: float = -1000.0) -> list[str]:
    """The writer `choose` gives at each (now, servers[, usable]) round of a replica that
    started at `started` (by default long before), its `synced_since` carried from one round
    to the next as the HAProxy task does; `usable`: the addresses the writer listener has a
    server for (left out: all); "none" for no writer."""
    lua = shutil.which(LUA)
    assert lua, f"{LUA} not found: scripts/test.sh installs it (apt-get install {LUA})"
    program = (f"ROUNDS = {lua_value([{'now': r[0], 'servers': r[1], 'usable': usable_table(r)} for r in rounds])}\n"
               f"STARTED, HOLD = {started}, {HOLD}\n{DRIVER}")
    run = subprocess.run([lua, "-e", program], input=writer_script(), capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def usable_table(round_: tuple):
    return {ip: True for ip in round_[2]} if len(round_) > 2 else None


def server(ip: str, status: str = "UP", check_status: str = "L7OK") -> dict:
    return {"addr": f"{ip}:3306", "status": status, "check_status": check_status}


A, B, C = "10.0.1.7", "10.0.1.9", "10.0.1.12"


@pytest.mark.parametrize("servers, writer", [
    ([server(A), server(B), server(C)], A),
    ([server(C), server(B)], B),  # numeric order, not text order ("10.0.1.12" < "10.0.1.9")
    # DNS gave the node an address, its first check has not run: UP, but not Synced yet.
    ([server(A, check_status="INI"), server(B)], B),
    ([server(A, check_status="* L7OK"), server(B)], A),  # the next check is running
    ([server(A, check_status="* INI"), server(B)], B),
    ([server(A, status="UP 1/2", check_status="L7STS"), server(B)], B),  # it answered: not Synced
    # A check that got no answer: HAProxy's `fall` decides, the node keeps the role while UP.
    ([server(A, status="UP 1/2", check_status="L7TOUT"), server(B)], A),
    ([server(A, status="UP 1/2", check_status="* L4TOUT"), server(B)], A),
    ([server(A, status="UP 1/2", check_status="L4CON"), server(B)], B),  # refused: nothing listens
    ([server(A, status="DOWN", check_status="L7TOUT"), server(B)], B),
    ([server(A, status="DOWN"), server(B)], B),
    ([server(A, status="MAINT", check_status="L7OK"), server(B)], B),
    ([server("0.0.0.0"), server(B)], B),  # a slot DNS has not filled
    ([server(A, check_status="L7STS"), server(B, status="DOWN")], "none"),
    ([server("[2001:db8::7]", check_status="L7OK"), server("2001:db8::3")], "2001:db8::3"),
])
def test_writer_is_the_lowest_address_whose_last_check_passed(servers, writer):
    # A replica that saw every server so for longer than the hold.
    rounds = [(-100.0, servers), (0.0, servers)]
    assert choices(rounds) == [writer, writer]


def test_a_node_that_came_back_takes_the_role_only_after_the_hold():
    both, b_alone = [server(A), server(B)], [server(A, check_status="L7STS"), server(B)]
    rounds = [(0.0, both), (HOLD, both),       # A Synced for the hold: A
              (HOLD + 1, b_alone),            # A's check fails once: B at once
              (HOLD + 2, both),               # A is back: B keeps the role...
              (2 * HOLD + 1.5, both),         # ...for the hold...
              (2 * HOLD + 2, both)]           # ...then A
    assert choices(rounds) == [A, A, B, B, B, A]


def test_a_check_that_timed_out_on_one_replica_keeps_the_writer_and_its_hold():
    # A busy host: one check of A times out (HAProxy: "UP 1/2", fall 2 not reached yet). A
    # keeps the role and its Synced-since, so it does not wait a new hold when the next passes.
    both, a_timed_out = [server(A), server(B)], [server(A, status="UP 1/2", check_status="L7TOUT"), server(B)]
    rounds = [(0.0, both), (HOLD, both), (HOLD + 1, a_timed_out), (HOLD + 1.5, both)]
    assert choices(rounds) == [A, A, A, A]


def test_with_no_node_synced_for_the_hold_the_lowest_synced_one_writes():
    # A node first seen Synced is not eligible yet: the lowest Synced one writes.
    assert choices([(0.0, [server(B)]), (1.0, [server(A), server(B)])]) == [B, A]
    # One eligible node holds the role against a lower one that is not.
    assert choices([(0.0, [server(C)]), (HOLD, [server(A), server(C)])]) == [C, C]


def test_a_replica_younger_than_the_hold_counts_the_nodes_it_finds_synced_as_synced_for_long():
    # Its checks pass on B first, then on A: A at once, and no moment of B when B's hold ends.
    rounds = [(0.0, [server(A, check_status="INI"), server(B)]), (0.5, [server(A), server(B)]),
              (HOLD + 0.2, [server(A), server(B)]), (HOLD + 1, [server(A), server(B)])]
    assert choices(rounds, started=0.0) == [B, A, A, A]
    # Once it is older than the hold, a node that comes back waits for it.
    rounds = [(0.0, [server(B)]), (HOLD + 1, [server(A), server(B)]), (2 * HOLD + 1, [server(A), server(B)])]
    assert choices(rounds, started=0.0) == [B, B, A]


def test_a_synced_node_the_writer_listener_has_no_server_for_yet_is_passed_over():
    # CI: the reader's DNS had the restarted node (lowest address) and its checks passed,
    # the writer's slots did not have it yet: choosing it left the writer no server at all.
    synced = [server(A), server(B)]
    assert choices([(0.0, synced, [B]), (1.0, synced, [A, B]), (2.0, synced, [])]) == [B, A, "none"]
