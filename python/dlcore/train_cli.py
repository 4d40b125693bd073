"""`dlcore train`, `dlcore eval` and `dlcore bench` subcommands (registered into dlcore.cli.COMMANDS)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .cli import COMMANDS


def _positive_int(s):
    """argparse type: an integer >= 1 (0 is an error, not "use the default")."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{s}'") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _nonnegative_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{s}'") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _train_args(p):
    p.add_argument("model", help="mlp, convnet, vgg_small, resnet_small, lstm_rows or autoencoder")
    p.add_argument("--epochs", type=_positive_int,
                   help="total epochs of the run (with --resume: including the checkpoint's epochs; default: per "
                        "model)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["sgd", "momentum", "adam", "rmsprop", "adagrad"])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=["none", "cosine"])
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    p.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=None,
                   help="capture the training step as a CUDA graph and replay it (default: on for a real GPU with "
                        "SGD/momentum/RMSprop and no dropout, off in the CUDA emulator)")
    p.add_argument("--threads", type=_positive_int, help="CPU threads (default: DLCORE_NUM_THREADS or all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=_nonnegative_int,
                   help="early stopping: epochs without validation improvement (default 3, mlp 5; 0 = off)")
    p.add_argument("--out", default="runs/{model}", help="directory for checkpoints, metrics and plots")
    p.add_argument("--augment", action="store_true", default=None, help="random flips and translations")
    p.add_argument("--limit", type=_positive_int, help="train on the first N images only (smoke runs; 1/12 of "
                                                       "them are the validation split)")
    p.add_argument("--test-limit", type=_positive_int, help="evaluate on the first N test images only")
    p.add_argument("--pretrain-epochs", type=_nonnegative_int,
                   help="autoencoder: greedy pre-training epochs per layer")
    p.add_argument("--resume", help="continue from a last.safetensors checkpoint (model, optimizer state, epoch) "
                                    "up to --epochs, which may be larger than the checkpointed run's. The lr is "
                                    "this run's, not the checkpoint's: --lr, or with --schedule cosine the cosine "
                                    "schedule over this run's --epochs, at the checkpoint's epoch")
    p.add_argument("--data", help="directory with the Fashion-MNIST IDX files (default: $DLCORE_DATA or "
                                  "/usr/share/datasets/fashion-mnist)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check_device(device):
    """A clear one-line error (ValueError, printed by the cli) for a device this build or machine lacks."""
    import dlcore
    d = dlcore.device(device)
    if d.type == "cuda" and not dlcore.cuda.is_available():
        raise ValueError(f"--device {device}: " + ("no CUDA device is available" if dlcore.cuda.is_built() else
                                                   "dlcore was built without CUDA"))
    if d.type == "cuda" and (d.index or 0) >= dlcore.cuda.device_count():
        raise ValueError(f"--device {device}: this machine has {dlcore.cuda.device_count()} CUDA device(s)")


def _train_run(a):
    from .training import TrainConfig, fit
    _check_device(a.device)
    cfg = TrainConfig(model=a.model, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, optimizer=a.optimizer,
                      momentum=a.momentum, weight_decay=a.weight_decay, schedule=a.schedule, device=a.device,
                      cuda_graph=a.cuda_graph,
                      threads=a.threads, seed=a.seed, patience=a.patience, out=a.out, augment=a.augment,
                      limit=a.limit, test_limit=a.test_limit, pretrain_epochs=a.pretrain_epochs,
                      progress=not a.no_progress and sys.stderr.isatty(), data_root=a.data, resume=a.resume)
    summary = fit(cfg)
    out = cfg.resolved().out
    print(f"test accuracy {summary['test_acc']:.4f}; wrote {out}/best.safetensors, metrics.csv, metrics.json, "
          f"curves.png, filters.png")
    return 0


def _eval_args(p):
    p.add_argument("model")
    p.add_argument("--checkpoint", required=True, help="a best.safetensors / last.safetensors file")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data")
    p.add_argument("--batch-size", type=int, default=512)


def _eval_run(a):
    import numpy as np

    from . import models
    from .data import DataLoader, FashionMNIST, FASHION_MNIST_CLASSES
    from .data import transforms as T
    from .training import evaluate, load_checkpoint
    _check_device(a.device)
    model = models.get_model(a.model)
    load_checkpoint(a.checkpoint, model)
    if a.device != "cpu":
        model = model.to(a.device)
    test = FashionMNIST(root=a.data, train=False,
                        transform=T.Compose([T.ToTensor(), T.Normalize([FashionMNIST.mean], [FashionMNIST.std])]))
    loader = DataLoader(test, batch_size=a.batch_size, device=None if a.device == "cpu" else a.device)
    loss, acc, conf = evaluate(model, loader, a.device)
    print(f"{a.model} {a.checkpoint}: test loss {loss:.4f}, accuracy {acc:.4f} on {len(test)} images")
    names = [c[:8] for c in FASHION_MNIST_CLASSES]
    print("confusion matrix (rows: true class, columns: predicted):")
    print(" " * 10 + "".join(f"{n:>9s}" for n in names))
    for i, row in enumerate(conf):
        print(f"{names[i]:>10s}" + "".join(f"{v:9d}" for v in row))
    per_class = np.diag(conf) / np.maximum(conf.sum(1), 1)
    print("per-class accuracy: " + ", ".join(f"{n} {p:.3f}" for n, p in zip(names, per_class)))
    return 0


BENCHES = ["elementwise", "gemm", "conv", "layers", "recurrent", "overhead", "train"]


def _bench_args(p):
    p.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHES)})")


def _bench_run(a):
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
    if not os.path.isdir(root):
        root = os.path.join(os.getcwd(), "bench")
    if not os.path.isdir(root):
        print("dlcore bench: the bench/ directory of the source tree was not found (run from a clone)",
              file=sys.stderr)
        return 2
    rc = 0
    for name in a.names or BENCHES:
        script = os.path.join(root, f"{name}.py")
        if not os.path.exists(script):
            print(f"dlcore bench: no benchmark {name} ({script})", file=sys.stderr)
            rc = 2
            continue
        print(f"== bench/{name}.py")
        sys.stdout.flush()
        r = subprocess.run([sys.executable, script])
        rc = rc or r.returncode
    return rc


COMMANDS["train"] = ("train a lecture network on Fashion-MNIST", _train_args, _train_run)
COMMANDS["eval"] = ("evaluate a checkpoint on the Fashion-MNIST test set", _eval_args, _eval_run)
COMMANDS["bench"] = ("run the benchmarks and print their ratio tables", _bench_args, _bench_run)
