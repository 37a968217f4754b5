"""The HAProxy config of the load balancer, rendered in one place.

`render_haproxy_config` fills `haproxy.cfg.template` (next to this module, Python
`string.Template`). Its users: the GaleraLoadBalancer component (the swarm config it mounts),
images/build.sh (the config the haproxy image ships, `python3 -m components.haproxy_config`)
and the image tests (the config they mount). Standard library only, so the image build can
run it without the project's virtualenv.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("haproxy.cfg.template")
# Where the haproxy image's CMD reads its config (images/haproxy/Dockerfile).
CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
# HAProxy's stats page (HTTP, `/;csv` for machines); not published by the stack.
STATS_PORT = 8404

# What the stack renders for its default config (galera.serviceName mysql-galera, 3 replicas
# on 3 hosts, Galera's ports 3306 and 9200): the config the image ships. A unit test checks
# that the program renders exactly this for such a stack.
HAPROXY_DEFAULTS = dict(listen_port=3306, galera_dns="tasks.mysql-galera", galera_port=3306,
                        health_port=9200, max_nodes=5, stats_port=STATS_PORT)


def render_haproxy_config(*, listen_port: int, galera_dns: str, galera_port: int,
                          health_port: int, max_nodes: int, stats_port: int) -> str:
    """haproxy.cfg text for a TCP listener on `listen_port` that spreads MySQL connections over
    the addresses `galera_dns` resolves to (in a swarm `tasks.<galera service>`), port
    `galera_port`, with `max_nodes` server slots, routing only to a node whose HTTP health
    check on `health_port` answers 200; the stats page on `stats_port`.

    Raises ValueError naming the argument when a port is outside 1..65535, `max_nodes` is below
    1 or `galera_dns` is empty.
    """
    ports = dict(listen_port=listen_port, galera_port=galera_port, health_port=health_port,
                 stats_port=stats_port)
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise ValueError(f"{name} must be a port from 1 to 65535, got {port!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes!r}")
    if not galera_dns:
        raise ValueError("galera_dns must name the Galera nodes, e.g. tasks.mysql-galera")
    return string.Template(TEMPLATE.read_text()).substitute(
        **ports, galera_dns=galera_dns, max_nodes=max_nodes)


if __name__ == "__main__":
    # images/build.sh: the config the haproxy image ships.
    sys.stdout.write(render_haproxy_config(**HAPROXY_DEFAULTS))
