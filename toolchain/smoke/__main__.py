"""Smoke stack for the Go-built toolchain: one Docker network on the local engine, one local
command, one secret config value. Driven by tests/toolchain/test_smoke_stack.py."""

import pulumi
import pulumi_command as command
import pulumi_docker as docker

config = pulumi.Config()
network_name = config.require("networkName")
smoke_secret = config.require_secret("smokeSecret")

network = docker.Network(
    "smoke-network",
    name=network_name,
    driver="bridge",
    labels=[docker.NetworkLabelArgs(label="galera-swarm.toolchain-smoke", value="true")],
)

# The secret reaches the command only through its environment, so the state must hold it
# encrypted; stdout proves the command ran without echoing the secret.
greeting = command.local.Command(
    "smoke-command",
    create='printf "network %s secret-length %s" "$NETWORK_NAME" "${#SMOKE_SECRET}"',
    environment={"NETWORK_NAME": network.name, "SMOKE_SECRET": smoke_secret},
)

pulumi.export("networkName", network.name)
pulumi.export("networkId", network.id)
pulumi.export("commandStdout", greeting.stdout)
pulumi.export("smokeSecret", smoke_secret)
