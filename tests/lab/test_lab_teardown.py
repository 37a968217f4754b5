"""`lab down` leaves nothing of the lab behind. Runs after test_lab_hosts.py (pytest takes files in name order)."""

from __future__ import annotations

from lab_helpers import REPO, Lab, lab, run

LAB_CONTAINERS = ("docker1", "docker2", "docker3", "galera-lab-registry")


def test_lab_down_leaves_no_container_network_volume_or_state(lab_hosts: Lab) -> None:
    assert run(["docker", "ps", "-a", "-q", "--filter", "name=^docker1$"]).stdout.strip(), "lab was not up"
    lab("down")
    names = set(run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split())
    assert names.isdisjoint(LAB_CONTAINERS)
    assert "backup1" not in names
    assert "galera-lab" not in run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()
    volumes = run(["docker", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()
    assert [v for v in volumes if v.startswith("galera-lab-")] == []
    assert not (REPO / "lab" / ".state").exists()
