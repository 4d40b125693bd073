"""No code built for an ISA the CPU lacks may run: the AVX2 / AVX-512 kernel files are compiled with those ISAs'
flags, and even their table-filling code can use the ISA's instructions (GCC merged function-pointer stores into a
512-bit vinserti64x4: every activation call was a SIGILL on AVX2-only CPUs). valgrind emulates a CPU without
AVX-512 (cpuid says so, and an AVX-512 instruction is a SIGILL), so scripts/isa_smoke.py - one call into every CPU
kernel family - run under `valgrind --tool=none` shows that dlcore picks AVX2 and never executes AVX-512 code."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlcore

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "isa_smoke.py"


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_no_avx512_code_runs_on_a_cpu_without_it():
    pkg_parent = str(Path(dlcore.__file__).absolute().parent.parent)  # (not resolved: a symlinked package tree)
    env = dict(os.environ, PYTHONPATH=pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", ""),
               DLCORE_NUM_THREADS="1")
    env.pop("DLCORE_ISA", None)
    r = subprocess.run(["valgrind", "--tool=none", "-q", sys.executable, str(SCRIPT)], env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "SIGILL" not in out and "Unrecognised instruction" not in out, out[-3000:]
    # valgrind's CPU has AVX2 and no AVX-512: the smoke ran the AVX2 kernels (on a host without AVX2: scalar)
    assert "avx512 ok" not in out and " ok" in out, out[-3000:]
