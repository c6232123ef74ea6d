"""The client is what a web backend installs: it must not drag torch or transformers in."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_importing_the_client_loads_no_torch_and_no_transformers() -> None:
    code = (
        "import sys, pipeq_client, pipeq_client.types, pipeq_client.aio, pipeq_client.client;"
        "heavy = sorted(m for m in ('torch', 'transformers', 'numpy', 'pipeq_workers') if m in sys.modules);"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
