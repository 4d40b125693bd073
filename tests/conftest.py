"""Shared fixtures: the devices to test (cpu, plus cuda when this build has one: real or emulated), dtypes,
and a seeded NumPy generator."""
import os
import zlib

import numpy as np
import pytest

import dlcore

DEVICES = ["cpu"] + (["cuda"] if dlcore.cuda.is_available() else [])


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES)


@pytest.fixture
def rng(request):
    """Seeded from the test's id, so a failure reproduces run after run (str hash() is salted per process, which
    made every run draw new data). DLCORE_TEST_SEED=n draws another fixed data set, to shake tolerances out."""
    seed = zlib.crc32(request.node.nodeid.encode()) ^ int(os.environ.get("DLCORE_TEST_SEED", "0"))
    return np.random.default_rng(seed)


@pytest.fixture(params=["float32", "float64"])
def float_dtype(request):
    return request.param


try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:  # torch is an optional reference
    HAVE_TORCH = False

requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch (the reference) is not installed")


@pytest.fixture(autouse=True)
def _restore_global_state():
    isa = dlcore._C._get_cpu_isa()
    threads = dlcore.get_num_threads()
    grad = dlcore.is_grad_enabled()
    yield
    dlcore._C._set_cpu_isa(isa)
    if dlcore.get_num_threads() != threads:
        dlcore.set_num_threads(threads)
    dlcore.set_grad_enabled(grad)


def D(a, device="cpu", dtype=None, grad=False):
    """A dlcore tensor from array-like a (floating data cast to dtype) on device, optionally requiring grad."""
    a = np.asarray(a)
    if dtype is not None and a.dtype.kind == "f":
        a = a.astype(dtype)
    t = dlcore.tensor(a, device=device)
    if grad:
        t.requires_grad_(True)
    return t
