"""The HAProxy config of the load balancer, rendered in one place.

`render_haproxy_config` fills `haproxy.cfg.template` (next to this module, Python
`string.Template`); `writer_script` is the Lua it loads (`galera_writer.lua`, also next to it),
which picks the one writer node. Their users: the GaleraLoadBalancer component (the swarm
config it mounts), images/build.sh (what the haproxy image ships: the config for the defaults
and the writer script, which is the same for every stack, `python3 -m components.haproxy_config
[--writer-script]`) and the image tests (the config they mount).
Standard library only, so the image build can run it without the project's virtualenv.

Two listeners (Percona's HAProxy for PXC: one per purpose, each with its own port):
- READER_PROXY on `read_port`: every Synced node, least connections;
- WRITER_PROXY on `listen_port`: one Synced node for every connection, the same on every load
  balancer replica: the lowest address among the nodes Synced for WRITER_HOLD_SECONDS (see
  galera_writer.lua for why not `hash-key addr`, which HAProxy 2.6 lacks). When it fails, the
  next lowest takes over.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("haproxy.cfg.template")
WRITER_SCRIPT = Path(__file__).resolve().with_name("galera_writer.lua")
# Where the haproxy image's CMD reads its config (images/haproxy/Dockerfile), and the writer
# script beside it.
CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
WRITER_SCRIPT_PATH = "/usr/local/etc/haproxy/galera-writer.lua"
# HAProxy's stats page (HTTP, `/;csv` for machines); not published by the stack.
STATS_PORT = 8404
# Where the stack's reader listens inside the swarm (the writer: Galera's own port, 3306).
READ_PORT = 3307
# The listeners' names (in the stats page and the log lines).
READER_PROXY = "galera-reader"
WRITER_PROXY = "galera-writer"
# How often the writer script looks at the reader's health checks (ms): a failover takes the
# checks' `fall 2` at `fastinter 500ms`, then at most this long.
WRITER_INTERVAL_MS = 500
# The writer's failback hold-down (s): a node takes the role once Synced this long without a
# break (galera_writer.lua `choose`), so a blip does not move the writer away and back.
WRITER_HOLD_SECONDS = 10

# What the stack renders for its default config (galera.serviceName mysql-galera, 3 replicas
# on 3 hosts, Galera's ports 3306 and 9200, the reader on 3307): the config the image ships. A
# unit test checks that the program renders exactly this for such a stack.
HAPROXY_DEFAULTS = dict(listen_port=3306, read_port=READ_PORT, galera_dns="tasks.mysql-galera", galera_port=3306,
                        health_port=9200, max_nodes=5, stats_port=STATS_PORT)


def render_haproxy_config(*, listen_port: int, read_port: int, galera_dns: str, galera_port: int,
                          health_port: int, max_nodes: int, stats_port: int) -> str:
    """haproxy.cfg text for two TCP listeners over the addresses `galera_dns` resolves to (in a
    swarm `tasks.<galera service>`), port `galera_port`, with `max_nodes` server slots each,
    routing only to nodes whose HTTP health check on `health_port` answers 200: the writer on
    `listen_port` (one node, chosen by the script at WRITER_SCRIPT_PATH), the reader on
    `read_port` (all of them); the stats page on `stats_port`.

    Raises ValueError naming the argument when a port is outside 1..65535, two listening ports
    are equal, `max_nodes` is below 1 or `galera_dns` is empty.
    """
    ports = dict(listen_port=listen_port, read_port=read_port, galera_port=galera_port,
                 health_port=health_port, stats_port=stats_port)
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise ValueError(f"{name} must be a port from 1 to 65535, got {port!r}")
    listening = {"listen_port": listen_port, "read_port": read_port, "stats_port": stats_port}
    if len(set(listening.values())) < len(listening):
        raise ValueError(f"listen_port, read_port and stats_port must differ, got {listening!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes!r}")
    if not galera_dns:
        raise ValueError("galera_dns must name the Galera nodes, e.g. tasks.mysql-galera")
    return string.Template(TEMPLATE.read_text()).substitute(
        **ports, galera_dns=galera_dns, max_nodes=max_nodes, writer_script=WRITER_SCRIPT_PATH,
        reader_proxy=READER_PROXY, writer_proxy=WRITER_PROXY)


class _LuaTemplate(string.Template):
    # Lua patterns anchor with `$`; its placeholders are written @{name}.
    delimiter = "@"


def writer_script() -> str:
    """The Lua the config loads from WRITER_SCRIPT_PATH: galera_writer.lua with the two
    listeners' names, WRITER_INTERVAL_MS and WRITER_HOLD_SECONDS filled in."""
    return _LuaTemplate(WRITER_SCRIPT.read_text()).substitute(
        reader_proxy=READER_PROXY, writer_proxy=WRITER_PROXY, writer_interval_ms=WRITER_INTERVAL_MS,
        writer_hold_s=WRITER_HOLD_SECONDS)


if __name__ == "__main__":
    # images/build.sh: what the haproxy image ships.
    sys.stdout.write(writer_script() if sys.argv[1:] == ["--writer-script"]
                     else render_haproxy_config(**HAPROXY_DEFAULTS))
