"""Training library and CLI (issue 7): short runs that must reach a stated accuracy, early stopping on a plateau,
resume giving the identical next epoch, checkpoint/metrics/plot files, the CLI end to end.

The data are generated IDX files (ten class templates plus noise, written like Fashion-MNIST's files), so these
tests run anywhere; a run on the real Fashion-MNIST files is added when they are installed."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dlcore
from dlcore.data.idx import write_idx
from dlcore.training import TrainConfig, fit

REAL_DATA = "/usr/share/datasets/fashion-mnist"


def _make_dataset(root, n_train=1200, n_test=400, seed=0):
    """Ten classes: each a fixed random blob pattern; a sample is its class pattern, shifted by up to 2 pixels,
    plus uniform noise. Linearly separable enough for an MLP, hard enough that an untrained net scores ~10%."""
    rng = np.random.default_rng(seed)
    templates = (rng.random((10, 28, 28)) > 0.7).astype(np.float32)

    def sample(n):
        y = rng.integers(0, 10, n)
        x = templates[y]
        sh = rng.integers(-2, 3, (n, 2))
        x = np.stack([np.roll(np.roll(img, a, 0), b, 1) for img, (a, b) in zip(x, sh)])
        x = np.clip(x * 180 + rng.random(x.shape) * 110, 0, 255).astype(np.uint8)
        return x, y.astype(np.uint8)

    xtr, ytr = sample(n_train)
    xte, yte = sample(n_test)
    write_idx(os.path.join(root, "train-images-idx3-ubyte.gz"), xtr)
    write_idx(os.path.join(root, "train-labels-idx1-ubyte.gz"), ytr)
    write_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz"), xte)
    write_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), yte)
    return root


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return _make_dataset(str(tmp_path_factory.mktemp("synth")))


def _cfg(synth, tmp_path, **kw):
    base = dict(data_root=synth, out=str(tmp_path / "run"), progress=False, seed=0, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("model,epochs,threshold", [("mlp", 2, 0.95), ("convnet", 2, 0.95)])
def test_short_run_reaches_accuracy(synth, tmp_path, model, epochs, threshold):
    logs = []
    s = fit(_cfg(synth, tmp_path, model=model, epochs=epochs, schedule="none"), log=logs.append)
    assert s["test_acc"] >= threshold, (s["test_acc"], logs)
    h = s["history"]
    assert len(h) == epochs and h[-1]["train_loss"] < h[0]["train_loss"]
    out = tmp_path / "run"
    for f in ("best.safetensors", "last.safetensors", "metrics.csv", "metrics.json", "curves.png", "filters.png"):
        assert (out / f).stat().st_size > 0, f
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_acc"] == s["test_acc"] and len(m["history"]) == epochs
    assert np.asarray(m["confusion"]).sum() == 400


def test_early_stopping_on_plateau(synth, tmp_path):
    # lr = 0: the validation loss is exactly flat, so with patience 2 training stops after epoch 3 (1 best + 2 bad).
    logs = []
    s = fit(_cfg(synth, tmp_path, model="mlp", epochs=8, lr=0.0, optimizer="sgd", patience=2, limit=300),
            log=logs.append)
    assert len(s["history"]) == 3
    assert s["best_epoch"] == 1
    assert any("early stopping" in line for line in logs)


@pytest.mark.parametrize("schedule", ["none", "cosine"])
def test_resume_gives_identical_next_epoch(synth, tmp_path, schedule):
    # Uninterrupted: 2 epochs. Interrupted after epoch 1, then resumed from last.safetensors for epoch 2.
    full = fit(_cfg(synth, tmp_path / "a", model="mlp", epochs=2, limit=400, patience=0, schedule=schedule),
               log=lambda *_: None)
    # The interrupted run has the same configuration; it is killed during epoch 2, before that epoch's save.
    class Killed(Exception):
        pass

    def kill_in_epoch_2(line):
        if line.startswith("epoch 2:"):
            raise Killed

    with pytest.raises(Killed):
        fit(_cfg(synth, tmp_path / "b", model="mlp", epochs=2, limit=400, patience=0, schedule=schedule),
            log=kill_in_epoch_2)
    last = str(tmp_path / "b" / "run" / "last.safetensors")
    resumed = fit(_cfg(synth, tmp_path / "c", model="mlp", epochs=2, limit=400, patience=0, resume=last,
                       schedule=schedule),
                  log=lambda *_: None)
    assert len(resumed["history"]) == 1 and resumed["history"][0]["epoch"] == 2
    np.testing.assert_allclose(resumed["history"][0]["train_loss"], full["history"][1]["train_loss"], rtol=1e-6)
    np.testing.assert_allclose(resumed["history"][0]["val_loss"], full["history"][1]["val_loss"], rtol=1e-6)


def test_resume_with_more_epochs_continues_the_cosine_schedule(synth, tmp_path):
    # A finished 1-epoch cosine run stores lr 0; resuming it with --epochs 3 must train epochs 2 and 3 on the
    # 3-epoch schedule (the lr an uninterrupted 3-epoch run has), not with the stored 0.
    kw = dict(model="mlp", limit=400, patience=0, schedule="cosine", optimizer="adam", lr=1e-3)
    first = fit(_cfg(synth, tmp_path / "a", epochs=1, **kw), log=lambda *_: None)
    assert first["history"][-1]["lr"] == 0.0  # the end of the 1-epoch schedule
    last = str(tmp_path / "a" / "run" / "last.safetensors")
    logs = []
    resumed = fit(_cfg(synth, tmp_path / "b", epochs=3, resume=last, **kw), log=logs.append)
    full = fit(_cfg(synth, tmp_path / "c", epochs=3, **kw), log=lambda *_: None)
    h = resumed["history"]
    assert [r["epoch"] for r in h] == [2, 3]
    np.testing.assert_allclose(h[0]["lr"], 1e-3 * (1 + np.cos(2 * np.pi / 3)) / 2, rtol=1e-9)  # 0.25 * lr
    np.testing.assert_allclose([r["lr"] for r in h], [r["lr"] for r in full["history"][1:]], rtol=1e-9, atol=1e-15)
    assert h[1]["train_loss"] < h[0]["train_loss"] < first["history"][0]["train_loss"]  # it trains
    assert any("resumed from" in line for line in logs)
    # without a schedule the resumed run uses its lr, not the finished schedule's stored 0
    s = fit(_cfg(synth, tmp_path / "e", epochs=2, resume=last, **dict(kw, schedule="none")), log=lambda *_: None)
    assert [r["lr"] for r in s["history"]] == [1e-3]
    # resuming a run that is already at --epochs trains nothing, and says so
    logs = []
    s = fit(_cfg(synth, tmp_path / "d", epochs=1, resume=last, **kw), log=logs.append)
    assert s["history"] == [] and any("nothing to train" in line for line in logs)


def test_autoencoder_pretraining_freezes_earlier_layers(synth, tmp_path):
    from dlcore import models
    m = models.autoencoder()
    m.freeze_below(1)
    frozen = [p for p in m.encoders[0].parameters()]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in m.encoders[1].parameters())
    m.unfreeze()
    assert all(p.requires_grad for p in m.parameters())
    # Greedy pre-training (1 epoch per layer), then 4 epochs of fine-tuning with the classifier head.
    s = fit(_cfg(synth, tmp_path, model="autoencoder", epochs=4, pretrain_epochs=1), log=lambda *_: None)
    assert s["test_acc"] >= 0.9


def _dlcore_cli(*args, cwd=None):
    env = dict(os.environ, DLCORE_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "dlcore", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_cli_train_and_eval(synth, tmp_path):
    out = tmp_path / "cli"
    r = _dlcore_cli("train", "mlp", "--epochs", "1", "--data", synth, "--out", str(out), "--no-progress",
                    "--optimizer", "adam", "--lr", "0.002", "--schedule", "none")
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
    for f in ("best.safetensors", "metrics.csv", "metrics.json", "curves.png", "filters.png"):
        assert (out / f).exists(), f
    r = _dlcore_cli("eval", "mlp", "--checkpoint", str(out / "best.safetensors"), "--data", synth)
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "confusion matrix" in r.stdout
    acc = float(r.stdout.split("accuracy ")[1].split()[0])
    assert acc >= 0.9


def test_cli_errors_are_clear(tmp_path):
    r = _dlcore_cli("train", "no_such_net", "--epochs", "1", "--data", str(tmp_path))
    assert r.returncode != 0 and "no_such_net" in (r.stderr + r.stdout)
    r = _dlcore_cli("train", "mlp", "--epochs", "1", "--data", str(tmp_path / "missing"), "--no-progress")
    assert r.returncode != 0 and "dataset-fashion-mnist" in (r.stderr + r.stdout)


def _cli_main(capsys, *args):
    from dlcore import cli
    try:
        rc = cli.main(list(args))
    except SystemExit as e:  # argparse errors
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_checkpoint_errors_are_one_line(synth, tmp_path, capsys):
    # A checkpoint that does not fit the model, or a corrupt file: `dlcore <cmd>: error: ...` and rc 2, like a
    # missing file, not a traceback.
    fit(_cfg(synth, tmp_path, model="mlp", epochs=1, limit=100, schedule="none"), log=lambda *_: None)
    ckpt = str(tmp_path / "run" / "last.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not a checkpoint at all, just text")
    cases = [
        ("eval", ["eval", "convnet", "--checkpoint", ckpt], "does not fit the model"),
        ("eval", ["eval", "mlp", "--checkpoint", str(junk)], "not a valid safetensors file"),
        ("train", ["train", "lstm_rows", "--epochs", "1", "--limit", "64", "--data", synth, "--out",
                   str(tmp_path / "x"), "--resume", ckpt, "--no-progress"], "does not fit the model LSTMRows"),
        ("eval", ["eval", "mlp", "--checkpoint", str(tmp_path / "nope.safetensors")], "No such file"),
    ]
    for cmd, args, text in cases:
        rc, _, err = _cli_main(capsys, *args)
        assert rc == 2, (args, err)
        assert err.startswith(f"dlcore {cmd}: error: ") and text in err, err
        assert err.count("\n") == 1 and "Traceback" not in err, err


def test_cli_does_not_hide_internal_errors(monkeypatch):
    # only the user-error types are turned into the one-line message: a bug elsewhere still raises
    from dlcore import cli

    def run(_):
        raise RuntimeError("an internal bug")

    monkeypatch.setitem(cli.COMMANDS, "boom", ("raises", lambda p: None, run))
    with pytest.raises(RuntimeError, match="an internal bug"):
        cli.main(["boom"])


@pytest.mark.parametrize("opt,value,text", [("--epochs", "0", "must be a positive integer, got 0"),
                                            ("--batch-size", "0", "must be a positive integer, got 0"),
                                            ("--threads", "0", "must be a positive integer, got 0"),
                                            ("--limit", "0", "must be a positive integer, got 0"),
                                            ("--test-limit", "-3", "must be a positive integer, got -3"),
                                            ("--patience", "-1", "must be >= 0, got -1"),
                                            ("--epochs", "x", "invalid int value: 'x'")])
def test_cli_rejects_non_positive_values(synth, tmp_path, capsys, opt, value, text):
    rc, _, err = _cli_main(capsys, "train", "mlp", opt, value, "--data", synth, "--out", str(tmp_path / "o"),
                           "--no-progress")
    assert rc == 2 and f"dlcore train: error: argument {opt}: {text}" in err, err
    assert not (tmp_path / "o").exists()


def test_limit_leaving_no_training_batch_is_an_error(synth, tmp_path, capsys):
    rc, _, err = _cli_main(capsys, "train", "mlp", "--limit", "1", "--epochs", "1", "--data", synth, "--out",
                           str(tmp_path / "o"), "--no-progress")
    assert rc == 2 and err.startswith("dlcore train: error: --limit 1 leaves no training images"), err
    rc, out, err = _cli_main(capsys, "train", "mlp", "--limit", "2", "--epochs", "1", "--data", synth, "--out",
                             str(tmp_path / "o2"), "--no-progress")
    assert rc == 0, err


@pytest.mark.parametrize("field", ["epochs", "batch_size", "threads", "limit", "test_limit"])
def test_train_config_zero_is_not_the_default(field):
    assert getattr(TrainConfig(model="mlp", **{field: 3}).resolved(), field) == 3
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got 0"):
        TrainConfig(model="mlp", **{field: 0}).resolved()


@pytest.mark.skipif(not os.path.isdir(REAL_DATA), reason="Fashion-MNIST files not installed (dataset-fashion-mnist)")
def test_convnet_on_real_fashion_mnist_subset(tmp_path):
    # 6000 training images, one epoch: the lecture ConvNet must pass 0.75 on 2000 test images.
    s = fit(TrainConfig(model="convnet", epochs=1, limit=6000, test_limit=2000, out=str(tmp_path / "r"),
                        progress=False, threads=1), log=lambda *_: None)
    assert s["test_acc"] >= 0.75
