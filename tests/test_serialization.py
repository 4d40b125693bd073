"""Checkpoints: round trips of state dicts and nested training state, interoperability with PyTorch's safetensors
files, atomic saves (a save killed mid-write leaves the previous file readable), clear errors on bad files."""
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.serialization import CheckpointError
from conftest import requires_torch


def _net():
    return nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2))


def _assert_same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))


def test_state_dict_roundtrip(tmp_path):
    m = _net()
    p = tmp_path / "m.safetensors"
    dlcore.save(m.state_dict(), p)
    sd = dlcore.load(p)
    _assert_same_state(m.state_dict(), sd)
    m2 = _net()
    m2.load_state_dict(sd)
    x = dlcore.randn(4, 3)
    np.testing.assert_array_equal(m(x).detach().numpy(), m2(x).detach().numpy())


def test_nested_training_state_roundtrip(tmp_path):
    m = _net()
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(dlcore.randn(2, 3)).sum().backward()
    opt.step()
    state = {"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "best": 0.25, "name": "run",
             "flags": (True, None), "hist": [1.5, 2.5], "ints": dlcore.arange(4),
             "bf": dlcore.tensor([1.5, -2.0, 3.25]).to(dlcore.bfloat16), "mask": dlcore.tensor([True, False])}
    p = tmp_path / "ck.safetensors"
    dlcore.save(state, p)
    got = dlcore.load(p)
    assert got["epoch"] == 7 and got["best"] == 0.25 and got["name"] == "run"
    assert got["flags"] == (True, None) and got["hist"] == [1.5, 2.5]
    assert got["ints"].dtype == dlcore.int64 and got["ints"].tolist() == [0, 1, 2, 3]
    assert got["bf"].dtype == dlcore.bfloat16 and got["bf"].float().tolist() == [1.5, -2.0, 3.25]
    assert got["mask"].dtype == dlcore.bool and got["mask"].tolist() == [True, False]
    _assert_same_state(m.state_dict(), got["model"])
    assert set(got["optimizer"]["state"]) == {0, 1, 2, 3}  # int keys survive
    opt2 = optim.SGD(_net().parameters(), lr=0.5)
    opt2.load_state_dict(got["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0]["momentum"] == 0.9


def test_zero_dim_bfloat16_roundtrip(tmp_path):
    # a 0-d bf16 tensor (a scalar buffer of a bf16 model): the bit-pattern conversion must keep it an array
    p = tmp_path / "s.safetensors"
    x = dlcore.tensor(2.5).to(dlcore.bfloat16)
    y = dlcore.tensor([[1.5, -3.0]]).to(dlcore.bfloat16)
    dlcore.save({"z": x, "n": {"z": x, "y": y}}, p)
    d = dlcore.load(p)
    for t in (d["z"], d["n"]["z"]):
        assert t.dtype == dlcore.bfloat16 and tuple(t.shape) == ()
        assert t.float().item() == 2.5
    assert d["n"]["y"].dtype == dlcore.bfloat16 and d["n"]["y"].float().tolist() == [[1.5, -3.0]]
    dlcore.save({"z": x}, p)  # a flat state dict too
    assert dlcore.load(p)["z"].float().item() == 2.5


@requires_torch
def test_zero_dim_bfloat16_read_by_torch(tmp_path):
    import torch
    from safetensors.torch import load_file
    p = tmp_path / "s.safetensors"
    dlcore.save({"z": dlcore.tensor(-0.75).to(dlcore.bfloat16)}, p)
    t = load_file(str(p))["z"]
    assert t.dtype == torch.bfloat16 and t.shape == () and t.item() == -0.75


def test_reserved_metadata_key_is_refused(tmp_path):
    p = tmp_path / "r.safetensors"
    with pytest.raises(ValueError, match="__metadata__.*reserved"):
        dlcore.save({"__metadata__": dlcore.ones(2), "w": dlcore.zeros(2)}, p)
    assert not p.exists()
    with pytest.raises(ValueError, match="__metadata__"):
        dlcore.save({"__metadata__": dlcore.ones(1)}, io.BytesIO())  # file objects too
    # nested under another key it is an ordinary name ('m.__metadata__') and round-trips
    dlcore.save({"m": {"__metadata__": dlcore.ones(2)}}, p)
    assert dlcore.load(p)["m"]["__metadata__"].tolist() == [1.0, 1.0]


def test_file_objects_and_map_location(tmp_path):
    buf = io.BytesIO()
    dlcore.save({"a": dlcore.ones(2)}, buf)
    buf.seek(0)
    assert dlcore.load(buf, map_location="cpu")["a"].tolist() == [1.0, 1.0]


def test_unsupported_objects_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="map to the key"):
        dlcore.save({"a.b": dlcore.ones(1), "a": {"b": dlcore.ones(1)}}, tmp_path / "x.safetensors")
    assert not os.path.exists(tmp_path / "x.safetensors")


@requires_torch
def test_torch_reads_our_file_and_we_read_torchs(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file
    m = _net()
    p = tmp_path / "ours.safetensors"
    dlcore.save(m.state_dict(), p)
    t = load_file(str(p))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 2))
    tm.load_state_dict(t)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(tm(torch.tensor(x)).detach().numpy(), m(dlcore.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # the other way: a torch state dict (with a BatchNorm's int64 counter and a bf16 tensor)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    tnet.train()
    tnet(torch.randn(8, 3))
    tp = tmp_path / "torch.safetensors"
    save_file(tnet.state_dict(), str(tp))
    dnet = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    dnet.load_state_dict(dlcore.load(tp))
    for k, v in tnet.state_dict().items():
        np.testing.assert_array_equal(np.asarray(dnet.state_dict()[k]), v.numpy(), err_msg=k)
    save_file({"w": torch.tensor([1.5, -3.0], dtype=torch.bfloat16)}, str(tmp_path / "bf.safetensors"))
    w = dlcore.load(tmp_path / "bf.safetensors")["w"]
    assert w.dtype == dlcore.bfloat16 and w.float().tolist() == [1.5, -3.0]
    dlcore.save({"w": w}, tmp_path / "bf2.safetensors")
    assert load_file(str(tmp_path / "bf2.safetensors"))["w"].tolist() == [1.5, -3.0]


def test_mismatched_checkpoint_gives_clear_error(tmp_path):
    dlcore.save(nn.Linear(3, 4).state_dict(), tmp_path / "a.safetensors")
    with pytest.raises(RuntimeError, match=r"size mismatch for weight.*\[4, 3\].*\[2, 3\]"):
        nn.Linear(3, 2).load_state_dict(dlcore.load(tmp_path / "a.safetensors"))


@pytest.mark.parametrize("damage", ["truncate_body", "truncate_header", "garbage_header", "empty", "pickle"])
def test_corrupt_files(tmp_path, damage):
    p = tmp_path / "c.safetensors"
    dlcore.save(_net().state_dict(), p)
    data = p.read_bytes()
    if damage == "truncate_body":
        data = data[:-10]
    elif damage == "truncate_header":
        data = data[:20]
    elif damage == "garbage_header":
        data = data[:8] + b"\xff" * (len(data) - 8)
    elif damage == "empty":
        data = b""
    else:
        data = b"\x80\x02}q\x00."
    p.write_bytes(data)
    with pytest.raises(CheckpointError, match="dlcore.load"):
        dlcore.load(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        dlcore.load(tmp_path / "nope.safetensors")


def test_interrupted_save_keeps_previous_file(tmp_path):
    """A process killed while it saves (repeatedly, a 16 MB checkpoint) never leaves a torn file behind."""
    path = tmp_path / "ck.safetensors"
    dlcore.save({"gen": dlcore.zeros(1), "w": dlcore.zeros(4)}, path)
    script = textwrap.dedent(f"""
        import sys, dlcore
        big = dlcore.ones(4 * 1024 * 1024)
        i = 0
        print("ready", flush=True)
        while True:
            i += 1
            dlcore.save({{"gen": dlcore.full([1], float(i)), "w": big}}, {str(path)!r})
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(dlcore.__file__))]
                                        + env.get("PYTHONPATH", "").split(os.pathsep))
    for delay in (0.05, 0.2, 0.45):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = dlcore.load(path)  # whichever generation was last completed, always whole
        gen = state["gen"].item()
        expect = 0.0 if gen == 0 else 1.0
        w = state["w"].numpy()
        assert w.size in (4, 4 * 1024 * 1024) and np.all(w == expect)


class _Custom:
    def __init__(self, t):
        self.t = t
        self.note = "kept"


def test_whole_model_save_needs_weights_only_false(tmp_path):
    """torch.save(model)'s use: objects other than tensors/containers are pickled; loading them runs code, so (as
    torch.load since 2.6) only weights_only=False loads them, and map_location still applies to their tensors."""
    dlcore.manual_seed(0)
    model = dlcore.nn.Sequential(dlcore.nn.Linear(3, 4), dlcore.nn.ReLU(), dlcore.nn.Linear(4, 2))
    p = tmp_path / "model.pt"
    dlcore.save(model, p)
    with pytest.raises(RuntimeError, match="weights_only=False"):
        dlcore.load(p)
    with pytest.raises(RuntimeError, match="weights_only=False"):
        dlcore.load(p, weights_only=True)
    back = dlcore.load(p, weights_only=False)
    assert isinstance(back, dlcore.nn.Sequential) and isinstance(back[0].weight, dlcore.nn.Parameter)
    x = dlcore.randn(5, 3)
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    # containers holding an object go the same way; the file is not safetensors, and a state dict still is
    buf = io.BytesIO()
    dlcore.save({"obj": _Custom(dlcore.ones(2, requires_grad=True)), "step": 3}, buf)
    buf.seek(0)
    got = dlcore.load(buf, weights_only=False, map_location="cpu")
    assert got["step"] == 3 and got["obj"].note == "kept" and got["obj"].t.requires_grad
    assert got["obj"].t.tolist() == [1.0, 1.0]
    sd = tmp_path / "sd.safetensors"
    dlcore.save(model.state_dict(), sd)
    assert set(dlcore.load(sd)) == set(model.state_dict())
    with pytest.raises(ValueError, match="metadata"):
        dlcore.save(_Custom(dlcore.ones(1)), tmp_path / "y.pt", metadata={"a": "b"})


def test_pickled_checkpoint_map_location(tmp_path):
    seen = []
    p = tmp_path / "obj.pt"
    dlcore.save([_Custom(dlcore.zeros(3))], p)

    def where(t, location):
        seen.append(location)
        return None

    back = dlcore.load(p, weights_only=False, map_location=where)
    assert seen == ["cpu"] and back[0].t.tolist() == [0.0, 0.0, 0.0]


def test_pickled_checkpoint_keeps_or_maps_devices(tmp_path, device):
    p = tmp_path / "obj.pt"
    dlcore.save(_Custom(dlcore.arange(4.0, device=device)), p)
    kept = dlcore.load(p, weights_only=False)
    assert kept.t.device.type == device and kept.t.tolist() == [0.0, 1.0, 2.0, 3.0]
    moved = dlcore.load(p, weights_only=False, map_location="cpu")
    assert moved.t.device.type == "cpu" and moved.t.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_ordered_dicts_load_back_as_ordered_dicts(tmp_path):
    from collections import OrderedDict
    import dlcore
    sd = dlcore.nn.Linear(2, 3).state_dict()
    assert isinstance(sd, OrderedDict)
    p = str(tmp_path / "sd.pt")
    dlcore.save(sd, p)
    r = dlcore.load(p)
    assert type(r) is OrderedDict and list(r) == ["weight", "bias"]
    dlcore.save({"model": sd, "plain": {"a": dlcore.ones(1)}}, p)
    r = dlcore.load(p)
    assert type(r) is dict and type(r["model"]) is OrderedDict and type(r["plain"]) is dict
