"""The build reports itself truthfully: dlcore.info(), the CLI, the registry, CUDA status."""
import json
import subprocess
import sys

import pytest

import dlcore
from dlcore import _C


def test_info_is_consistent_with_build():
    d = dlcore.info(as_dict=True)
    b = _C._build_info
    assert d["cuda_built"] == b["cuda_built"]
    assert d["cuda_emulated"] == b["cuda_emulated"]
    assert d["cpu_isa_active"] in ("scalar", "avx2", "avx512")
    assert d["threads"] == dlcore.get_num_threads() >= 1
    if not b["cuda_built"]:
        assert not dlcore.cuda.is_available()
        assert d["cuda_devices"] == 0
        with pytest.raises(RuntimeError, match="without CUDA"):
            dlcore.ones(2, device="cuda")
    if b["cuda_emulated"]:
        assert dlcore.cuda.is_available() and dlcore.cuda.is_emulated()
    # the build description (a generated header, CMakeLists.txt): compiler and build type always; the revision
    # when built from a git checkout (a clone, as CI builds it)
    assert b["compiler"].strip() and b["build_type"].strip()
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(os.path.join(root, ".git")) and os.path.dirname(os.path.abspath(dlcore.__file__)).startswith(root):
        assert b.get("git_revision"), "built from a git checkout but no git_revision in the build info"


def test_cli_version_and_info():
    out = subprocess.run([sys.executable, "-m", "dlcore", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("dlcore ")
    out = subprocess.run([sys.executable, "-m", "dlcore", "info", "--json"], capture_output=True, text=True,
                         check=True)
    d = json.loads(out.stdout)
    assert d["cuda_built"] == _C._build_info["cuda_built"]


def test_isa_env_var_pins_lower_isa():
    code = "import dlcore; print(dlcore._C._get_cpu_isa())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "DLCORE_ISA": "scalar"})
    assert out.stdout.strip() == "scalar"


def test_num_threads_env_var():
    code = "import dlcore; print(dlcore.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "DLCORE_NUM_THREADS": "3"})
    assert out.stdout.strip() == "3"


def test_registry_lists_cpu_kernels_and_missing_kernel_message():
    kernels = {(op, dev) for op, dev, _ in _C._kernels()}
    for op in ["binary", "unary", "reduce", "copy", "fill", "matmul", "random", "where"]:
        assert (op, "cpu") in kernels


def test_intrinsics_come_through_the_warning_wrapper():
    # GCC 12's AVX-512 headers raise hundreds of false -Wmaybe-uninitialized warnings once inlined (GCC bug
    # 105593); csrc/core/x86_intrin.h includes <immintrin.h> with the warning off for the header's lines only. A
    # direct include anywhere else would bring them all back (the first include of a translation unit decides).
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    direct = [str(p.relative_to(root)) for p in root.rglob("*")
              if p.suffix in (".h", ".cpp", ".inc", ".cuh", ".cu") and p.name != "x86_intrin.h"
              and re.search(r"#\s*include\s*<(imm|x86|[a-z0-9]+)intrin\.h>", p.read_text())]
    assert direct == [], f"include core/x86_intrin.h instead of <immintrin.h> in: {direct}"
