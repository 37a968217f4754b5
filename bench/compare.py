"""Hand-made seed recipe versus `pulumi up`, on the same lab and images.

Each round starts from bare lab hosts and stops the clock when all three Galera nodes are
Synced and WordPress answers. Prints every measurement, the medians of 3 rounds, their
ratio, and the time of a no-change `pulumi up`.

Run with `make bench` (after `make up` or on a fresh lab; it owns the lab while it runs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "lab" / "lab"
SEED = ROOT / "bench" / "seed-recipe.sh"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HOSTS = ("docker1", "docker2", "docker3")


def run(*args: str, timeout: float = 1800) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def on(host: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAB), "ssh", host, command], capture_output=True, text=True, timeout=60)


def ready() -> bool:
    for host in HOSTS:
        check = on(host, "docker exec $(docker ps -q --filter label=com.docker.swarm.service.name=mysql-galera) "
                         "galera-health --check")
        if check.returncode != 0:
            return False
    urls = json.loads(run("pulumi", "stack", "output", "wordpress_urls", "--json"))
    for url in urls:
        try:
            with urllib.request.urlopen(url + "wp-admin/install.php", timeout=10) as response:
                return response.status == 200
        except OSError:
            continue
    return False


def wait_ready(deadline_s: float = 900) -> None:
    deadline = time.monotonic() + deadline_s
    while not ready():
        if time.monotonic() > deadline:
            sys.exit("the stack did not become ready in time")
        time.sleep(1)


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def pulumi_round() -> float:
    def up():
        run("pulumi", "up", "--yes", "--non-interactive", "--suppress-progress", "--skip-preview")
        wait_ready()
    return timed(up)


def main() -> None:
    run(str(LAB), "up", timeout=3600)
    run("pulumi", "stack", "select", "--create", "--non-interactive", "dev")
    hand, pulumi, no_change = [], [], []
    for round_no in range(1, ROUNDS + 1):
        hand.append(timed(lambda: run(str(SEED), "up")))
        run(str(SEED), "down")
        pulumi.append(pulumi_round())
        no_change.append(timed(lambda: run("pulumi", "up", "--yes", "--non-interactive",
                                           "--suppress-progress", "--expect-no-changes")))
        run("pulumi", "destroy", "--yes", "--non-interactive", "--suppress-progress")
        run(str(SEED), "down")  # destroy keeps data volumes; both rounds start from bare hosts
        print(f"round {round_no}: hand recipe {hand[-1]:.1f} s, pulumi up {pulumi[-1]:.1f} s, "
              f"no-change up {no_change[-1]:.1f} s", flush=True)
    h, p = statistics.median(hand), statistics.median(pulumi)
    print(f"median of {ROUNDS}: hand recipe {h:.1f} s, pulumi up {p:.1f} s, ratio {p / h:.2f}; "
          f"no-change up {statistics.median(no_change):.1f} s")


if __name__ == "__main__":
    main()
