"""Engine-only smoke stack: a secret config value and values derived from it, no provider
plugin. Proves the CLI, the Python language host, passphrase secrets and the file backend
work on their own. Driven by tests/toolchain/test_engine_stack.py."""

import pulumi

config = pulumi.Config()
smoke_secret = config.require_secret("smokeSecret")

pulumi.export("smokeSecret", smoke_secret)
pulumi.export("secretLength", smoke_secret.apply(len))
pulumi.export("stackName", pulumi.get_stack())
