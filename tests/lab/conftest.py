"""Shared fixture for the lab tests: one lab for the whole session, `lab down` at the end."""

from __future__ import annotations

import json
import time
from typing import Iterator

import pytest

from lab_helpers import LAB_JSON, Lab, build_probe_image, lab


@pytest.fixture(scope="session")
def lab_hosts() -> Iterator[Lab]:
    """`lab up` once for the session, the test probe image pushed; `lab down` at the end, always."""
    try:
        started = time.monotonic()
        lab("up", timeout=3600)
        print(f"lab up took {time.monotonic() - started:.0f} s")
        the_lab = Lab(json.loads(LAB_JSON.read_text()))
        build_probe_image()
        yield the_lab
    finally:
        lab("down", timeout=600, check=False)
