"""Training the lecture networks on Fashion-MNIST: loaders, optimizers, the epoch loop with a progress bar,
validation, early stopping, checkpoints (safetensors), metrics (CSV/JSON) and plots (PNG).

Used by `dlcore train` / `dlcore eval` (train_cli.py), bench/train.py and the tests."""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

# Per-model defaults: what reaches the accuracy goals of the issue on this CPU in few epochs.
DEFAULTS = {
    "mlp": dict(optimizer="adam", lr=1e-3, epochs=12, batch_size=64, schedule="cosine", patience=5),
    "convnet": dict(optimizer="momentum", lr=0.05, epochs=5, batch_size=64, weight_decay=5e-4, schedule="cosine"),
    "vgg_small": dict(optimizer="momentum", lr=0.05, epochs=20, batch_size=128, augment=True, weight_decay=5e-4,
                      schedule="cosine"),
    "resnet_small": dict(optimizer="momentum", lr=0.05, epochs=20, batch_size=128, augment=True, weight_decay=5e-4,
                         schedule="cosine"),
    "lstm_rows": dict(optimizer="adam", lr=2e-3, epochs=10, batch_size=64),
    "autoencoder": dict(optimizer="adam", lr=1e-3, epochs=10, batch_size=64, pretrain_epochs=2),
}


@dataclass
class TrainConfig:
    model: str = "convnet"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None  # sgd | momentum | adam | rmsprop | adagrad
    momentum: float = 0.9
    weight_decay: float | None = None
    schedule: str | None = None  # none | cosine | step
    device: str = "cpu"
    cuda_graph: bool | None = None  # capture the training step as a CUDA graph (default: on a real GPU, not emulated)
    threads: int | None = None
    seed: int = 0
    patience: int | None = None  # default 3 (per-model defaults above may differ); 0 disables early stopping
    out: str = "runs/{model}"
    val_fraction: float = 1 / 12
    augment: bool | None = None
    limit: int | None = None  # use only the first `limit` training images (tests, smoke runs)
    test_limit: int | None = None
    pretrain_epochs: int | None = None
    progress: bool = True
    data_root: str | None = None
    resume: str | None = None
    extra: dict = field(default_factory=dict)

    def resolved(self):
        d = DEFAULTS.get(self.model, {})
        c = TrainConfig(**asdict(self))
        for k, v in d.items():
            if getattr(c, k, None) is None:
                setattr(c, k, v)
        # (`is None`, not `or`: an explicit 0 is an error below, not "use the default")
        c.epochs = 5 if c.epochs is None else c.epochs
        c.patience = 3 if c.patience is None else c.patience
        c.batch_size = 64 if c.batch_size is None else c.batch_size
        c.lr = c.lr if c.lr is not None else 1e-3
        c.optimizer = c.optimizer or "adam"
        c.weight_decay = 0.0 if c.weight_decay is None else c.weight_decay
        c.augment = bool(c.augment)
        c.schedule = c.schedule or "none"
        c.pretrain_epochs = c.pretrain_epochs if c.pretrain_epochs is not None else 0
        c.out = c.out.format(model=c.model)
        for name in ("epochs", "batch_size", "threads", "limit", "test_limit"):
            v = getattr(c, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v}")
        for name in ("patience", "pretrain_epochs"):
            if getattr(c, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(c, name)}")
        return c


def make_optimizer(name, params, lr, momentum=0.9, weight_decay=0.0):
    from . import optim
    params = [p for p in params if p.requires_grad]
    if name == "adam" and params and params[0].device.type == "cuda":
        # the step count on the device: the step can be captured in a CUDA graph
        return optim.Adam(params, lr=lr, weight_decay=weight_decay, capturable=True)
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r} (choose sgd, momentum, adam, rmsprop or adagrad)")


def make_loaders(cfg: TrainConfig):
    from . import data as D
    from .data import transforms as T
    mean, std = D.FashionMNIST.mean, D.FashionMNIST.std
    base = T.Compose([T.ToTensor(), T.Normalize([mean], [std])])
    train_full = D.FashionMNIST(root=cfg.data_root, train=True, transform=base)
    test = D.FashionMNIST(root=cfg.data_root, train=False, transform=base)
    n = len(train_full) if cfg.limit is None else min(cfg.limit, len(train_full))
    if n < len(train_full):
        train_full = D.Subset(train_full, np.arange(n))
    n_val = max(1, int(round(n * cfg.val_fraction))) if cfg.val_fraction > 0 else 0
    if n - n_val < 1:
        raise ValueError(f"--limit {cfg.limit} leaves no training images ({n} image(s), {n_val} of them for "
                         "validation); use a larger limit")
    train_set, val_set = D.random_split(train_full, [n - n_val, n_val], generator=cfg.seed)
    if cfg.augment:
        aug = T.Compose([T.ToTensor(), T.RandomHorizontalFlip(seed=cfg.seed), T.RandomCrop(28, padding=2,
                                                                                          seed=cfg.seed + 1),
                         T.Normalize([mean], [std])])
        aug_full = D.FashionMNIST(root=cfg.data_root, train=True, transform=aug)
        train_set = D.Subset(aug_full, train_set.indices)
    if cfg.test_limit is not None:
        test = D.Subset(test, np.arange(min(cfg.test_limit, len(test))))
    dev = cfg.device if cfg.device != "cpu" else None
    train_loader = D.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=dev)
    val_loader = D.DataLoader(val_set, batch_size=512, device=dev) if n_val else None
    test_loader = D.DataLoader(test, batch_size=512, device=dev)
    return train_loader, val_loader, test_loader


def _accuracy_counts(logits, y):
    pred = logits.argmax(1)
    return int((pred == y).sum().item())


def evaluate(model, loader, device="cpu", num_classes=10):
    """Mean cross-entropy, accuracy and the confusion matrix (rows: true class, columns: predicted). Batches are
    moved to device (nothing to do when the loader already yields them there)."""
    from . import no_grad
    from .nn import functional as F
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    confusion = np.zeros((num_classes, num_classes), np.int64)
    with no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum").item())
            pred = logits.argmax(1)
            yp = pred.cpu().numpy()
            yt = y.cpu().numpy()
            np.add.at(confusion, (yt, yp), 1)
            correct += int((yp == yt).sum())
            total += len(yt)
    model.train()
    return loss_sum / max(total, 1), correct / max(total, 1), confusion


def train_epoch(model, loader, opt, device="cpu", progress=True, desc="train", scheduler_step=None,
                cuda_graph=False):
    from .nn import functional as F
    model.train()
    if str(device) != "cpu":
        return _train_epoch_device(model, loader, opt, progress, desc, scheduler_step, cuda_graph)
    total, correct, loss_sum = 0, 0, 0.0
    bar = _progress(loader, desc, progress)
    for i, (x, y) in enumerate(bar):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if scheduler_step is not None:
            scheduler_step()
        n = x.shape[0]
        loss_sum += float(loss.item()) * n
        correct += _accuracy_counts(logits, y)
        total += n
        if progress and (i % 20 == 0 or i == len(loader) - 1):
            bar.set_postfix(loss=f"{loss_sum / total:.4f}", acc=f"{correct / total:.4f}")
    return loss_sum / max(total, 1), correct / max(total, 1)


def _train_epoch_device(model, loader, opt, progress, desc, scheduler_step, cuda_graph):
    """The epoch on a GPU without a host synchronisation per step: the loss sum and the correct count accumulate
    in device tensors that are read once, at the end. With cuda_graph, the step is captured once into a CUDA graph
    over static input tensors and replayed for every batch of the same shape (see _GraphStep)."""
    from . import no_grad
    from .nn import functional as F
    graph = _GraphStep(model, opt, capture_opt=scheduler_step is None) if cuda_graph else None
    loss_sum = correct = None
    total = 0
    for x, y in _progress(loader, desc, progress):
        n = x.shape[0]
        if graph is None or not graph.run(x, y):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with no_grad():
                lsum = loss.detach() * n
                csum = (logits.argmax(1) == y).sum()
                loss_sum = lsum if loss_sum is None else loss_sum + lsum
                correct = csum if correct is None else correct + csum
            if graph is not None:
                graph.warmed_up(x, y)
        if scheduler_step is not None:
            scheduler_step()
        total += n
    loss_total = 0.0 if loss_sum is None else float(loss_sum.item())
    correct_total = 0 if correct is None else int(correct.item())
    if graph is not None:
        gl, gc = graph.totals()
        loss_total += gl
        correct_total += gc
    return loss_total / max(total, 1), correct_total / max(total, 1)


class _GraphStep:
    """One training step captured as a CUDA graph (torch's whole-network capture recipe): the first batch runs
    eagerly (warm-up: the optimizer creates its state), its tensors' shapes fix static input tensors; the next batch
    is copied into them and the step (forward, loss, backward, optimizer step unless an lr schedule changes the lr
    every step, metric accumulation) is captured; every later batch of the same shape is copied into the static
    inputs and the graph replayed. Batches of another shape (the last, partial one) run eagerly."""

    def __init__(self, model, opt, capture_opt=True):
        self.model, self.opt, self.capture_opt = model, opt, capture_opt
        self.xs = self.ys = self.graph = None
        self.loss_acc = self.correct_acc = None

    def warmed_up(self, x, y):
        if self.xs is None:
            self.xs, self.ys = x.clone(), y.clone()

    def run(self, x, y):
        import dlcore
        if self.xs is None or tuple(x.shape) != tuple(self.xs.shape) or tuple(y.shape) != tuple(self.ys.shape):
            return False
        self.xs.copy_(x)
        self.ys.copy_(y)
        if self.graph is None:
            self.loss_acc = dlcore.zeros((), dtype=dlcore.float32, device=x.device)
            self.correct_acc = dlcore.zeros((), dtype=dlcore.int64, device=x.device)
            self.graph = dlcore.cuda.CUDAGraph()
            with dlcore.cuda.graph(self.graph):
                self._body()
        self.graph.replay()
        if not self.capture_opt:
            self.opt.step()
        return True

    def _body(self):
        from . import no_grad
        from .nn import functional as F
        logits = self.model(self.xs)
        loss = F.cross_entropy(logits, self.ys)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.capture_opt:
            self.opt.step()
        with no_grad():
            self.loss_acc.add_(loss.detach() * self.xs.shape[0])
            self.correct_acc.add_((logits.argmax(1) == self.ys).sum())

    def totals(self):
        if self.loss_acc is None:
            return 0.0, 0
        return float(self.loss_acc.item()), int(self.correct_acc.item())


def cuda_graph_supported(model, opt, device):
    """Whether the training step of model/opt can be captured: a real (not emulated) CUDA device, no dropout (its
    masks would be frozen into the graph) and SGD, RMSprop or a capturable Adam (Adagrad's lr decay would freeze)."""
    import dlcore
    from . import optim
    if not str(device).startswith("cuda") or not dlcore.cuda.is_available():
        return False
    if any("Dropout" in type(m).__name__ and getattr(m, "p", 0) > 0 for m in model.modules()):
        return False
    if isinstance(opt, optim.Adam):
        return all(g.get("capturable") for g in opt.param_groups)
    return isinstance(opt, (optim.SGD, optim.RMSprop))


def _progress(it, desc, enabled):
    if not enabled:
        return _NoBar(it)
    from tqdm import tqdm
    return tqdm(it, desc=desc, leave=False, dynamic_ncols=True, mininterval=0.5)


class _NoBar:
    def __init__(self, it):
        self.it = it

    def __iter__(self):
        return iter(self.it)

    def __len__(self):
        return len(self.it)

    def set_postfix(self, **_):
        pass


def pretrain_autoencoder(model, loader, cfg, log):
    """Greedy layer-wise pre-training: layer k learns to reconstruct the codes of layers < k (frozen)."""
    from .nn import functional as F
    for k in range(len(model.encoders)):
        model.freeze_below(k)
        opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum)
        for e in range(cfg.pretrain_epochs):
            total, loss_sum = 0, 0.0
            for x, _ in _progress(loader, f"pretrain layer {k} epoch {e + 1}", cfg.progress):
                inp, rec = model.reconstruct(x, k)
                loss = F.mse_loss(rec, inp)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += float(loss.item()) * x.shape[0]
                total += x.shape[0]
            log(f"pretrain layer {k} epoch {e + 1}: reconstruction mse {loss_sum / total:.5f}")
    model.unfreeze()


def save_checkpoint(path, model, opt=None, epoch=0, extra=None):
    """Model (and optimizer) state as one safetensors file, written atomically."""
    from . import save
    state = {"model": model.state_dict()}
    if opt is not None:
        state["optimizer"] = opt.state_dict()
    state["meta"] = {"epoch": int(epoch), **(extra or {})}
    save(state, path)


def load_checkpoint(path, model, opt=None):
    """Loads the model (and optimizer) state of a checkpoint; returns its meta dict. A checkpoint that does not fit
    the model or optimizer raises CheckpointError (a corrupt file raises it from dlcore.load)."""
    from . import load
    from .serialization import CheckpointError
    state = load(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(state).__name__}, not a state dict")
    try:
        model.load_state_dict(state["model"] if "model" in state else state)
    except (RuntimeError, TypeError) as e:
        # one line (the cli prints it as `dlcore <cmd>: error: ...`): the messages without load_state_dict's header
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
            lines = lines[1:]
        raise CheckpointError(f"checkpoint '{path}' does not fit the model {type(model).__name__}: "
                              + " ".join(lines)) from e
    if opt is not None and "optimizer" in state:
        try:
            opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"checkpoint '{path}': its optimizer state does not fit the "
                                  f"{type(opt).__name__} optimizer: {e}") from e
    return state.get("meta", {})


def fit(cfg: TrainConfig, log=print):
    """Trains cfg.model; returns the history dict. Writes into cfg.out: best.safetensors (best validation loss),
    last.safetensors (model + optimizer, for resuming), metrics.csv/json, curves.png, filters.png."""
    import dlcore
    from . import models
    cfg = cfg.resolved()
    if cfg.threads is not None:
        dlcore.set_num_threads(cfg.threads)
    dlcore.manual_seed(cfg.seed)
    os.makedirs(cfg.out, exist_ok=True)
    model = models.get_model(cfg.model)  # first: an unknown model name fails before the data are read
    train_loader, val_loader, test_loader = make_loaders(cfg)
    if cfg.device != "cpu":
        model = model.to(cfg.device)
    log(f"dlcore {dlcore.__version__}: training {cfg.model} on Fashion-MNIST ({len(train_loader.dataset)} train, "
        f"{len(val_loader.dataset) if val_loader else 0} validation, {len(test_loader.dataset)} test), "
        f"{cfg.optimizer} lr={cfg.lr}, batch {cfg.batch_size}, {dlcore.get_num_threads()} threads, "
        f"device {cfg.device}, ISA {dlcore._C._get_cpu_isa()}")
    if cfg.model == "autoencoder" and cfg.pretrain_epochs and not cfg.resume:
        pretrain_autoencoder(model, train_loader, cfg, log)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
    sched = None
    if cfg.schedule == "cosine":
        from .optim import lr_scheduler
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * len(train_loader))
    start_epoch = 0
    if cfg.resume:
        meta = load_checkpoint(cfg.resume, model, opt)  # restores the optimizer's state and its current lr
        start_epoch = int(meta.get("epoch", 0))
        train_loader.set_epoch(start_epoch)
        # The lr is this run's, not the checkpoint's (a finished cosine schedule stored lr 0, which the recursive
        # cosine formula would keep at 0): without a schedule, cfg.lr; with one, the schedule continues at the
        # checkpoint's step (one step per batch) on this run's schedule, whose T_max covers this run's epochs (which
        # may be more than the checkpointed run's), and the lr of that step comes from its closed form.
        if sched is None:
            for group in opt.param_groups:
                group["lr"] = cfg.lr
        else:
            sched.last_epoch = start_epoch * len(train_loader)
            sched._step_count = sched.last_epoch + 1
            sched.base_lrs = [cfg.lr for _ in opt.param_groups]
            for group, lr in zip(opt.param_groups, sched._get_closed_form_lr()):
                group["initial_lr"] = cfg.lr
                group["lr"] = lr
            sched._last_lr = [group["lr"] for group in opt.param_groups]
        log(f"resumed from {cfg.resume} at epoch {start_epoch}")
        if start_epoch >= cfg.epochs:
            log(f"nothing to train: the checkpoint is at epoch {start_epoch} and epochs is {cfg.epochs} (pass a "
                "larger --epochs to train on)")
    use_graph = cfg.cuda_graph
    if use_graph is None:  # default: on for a real GPU when the step can be captured; off in the emulator
        use_graph = not dlcore.cuda.is_emulated() and cuda_graph_supported(model, opt, cfg.device)
    elif use_graph and not cuda_graph_supported(model, opt, cfg.device):
        log("cuda graph: not used (needs a cuda device, no dropout, and SGD or RMSprop)")
        use_graph = False
    history = []
    best_val, best_epoch, bad_epochs = math.inf, -1, 0
    best_path = os.path.join(cfg.out, "best.safetensors")
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        tr_loss, tr_acc = train_epoch(model, train_loader, opt, cfg.device, cfg.progress,
                                      desc=f"epoch {epoch + 1}/{cfg.epochs}",
                                      scheduler_step=sched.step if sched else None, cuda_graph=use_graph)
        train_time = time.perf_counter() - t0
        if val_loader is not None:
            va_loss, va_acc, _ = evaluate(model, val_loader, cfg.device)
        else:
            va_loss, va_acc = tr_loss, tr_acc
        row = dict(epoch=epoch + 1, train_loss=tr_loss, train_acc=tr_acc, val_loss=va_loss, val_acc=va_acc,
                   epoch_seconds=train_time, lr=opt.param_groups[0]["lr"])
        history.append(row)
        log(f"epoch {epoch + 1}: train loss {tr_loss:.4f} acc {tr_acc:.4f} | val loss {va_loss:.4f} "
            f"acc {va_acc:.4f} | {train_time:.1f} s")
        save_checkpoint(os.path.join(cfg.out, "last.safetensors"), model, opt, epoch + 1)
        if va_loss < best_val:
            best_val, best_epoch, bad_epochs = va_loss, epoch + 1, 0
            save_checkpoint(best_path, model, None, epoch + 1, {"val_loss": va_loss, "val_acc": va_acc})
        else:
            bad_epochs += 1
            if cfg.patience and bad_epochs >= cfg.patience:
                log(f"early stopping: validation loss has not improved for {cfg.patience} epochs "
                    f"(best {best_val:.4f} at epoch {best_epoch})")
                break
        write_metrics(cfg.out, history)
    if os.path.exists(best_path):
        load_checkpoint(best_path, model)
    te_loss, te_acc, confusion = evaluate(model, test_loader, cfg.device)
    log(f"test: loss {te_loss:.4f} accuracy {te_acc:.4f} (best epoch {best_epoch})")
    summary = dict(model=cfg.model, test_loss=te_loss, test_acc=te_acc, best_epoch=best_epoch,
                   config={k: v for k, v in asdict(cfg).items() if k != "extra"}, history=history,
                   confusion=confusion.tolist())
    write_metrics(cfg.out, history, summary)
    try:
        plot_curves(history, os.path.join(cfg.out, "curves.png"), cfg.model)
        plot_filters(model, os.path.join(cfg.out, "filters.png"))
    except ImportError as e:  # matplotlib missing: metrics are still written
        log(f"plots skipped: {e}")
    return summary


def write_metrics(out, history, summary=None):
    if history:
        with open(os.path.join(out, "metrics.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(summary if summary is not None else {"history": history}, f, indent=1)


def plot_curves(history, path, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    ax[0].plot(ep, [h["val_loss"] for h in history], "o-", label="validation")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("cross-entropy")
    ax[0].legend()
    ax[1].plot(ep, [h["train_acc"] for h in history], "o-", label="train")
    ax[1].plot(ep, [h["val_acc"] for h in history], "o-", label="validation")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy")
    ax[1].legend()
    fig.suptitle(f"dlcore {title} on Fashion-MNIST")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def first_layer_filters(model):
    """The first layer's weights as images: conv kernels [out, in, k, k] or Linear rows on 28x28 inputs."""
    from . import nn
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight.detach().cpu().numpy()
            return w[:, 0] if w.shape[1] == 1 else w.mean(1)
        if isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().numpy()
            if w.shape[1] == 784:
                return w.reshape(-1, 28, 28)
            return None
        if isinstance(m, nn.LSTM):
            return None
    return None


def plot_filters(model, path, max_filters=64):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    f = first_layer_filters(model)
    if f is None:
        return False
    f = f[:max_filters]
    n = len(f)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.2))
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(f[i], cmap="gray", interpolation="nearest")
    fig.suptitle("first-layer filters")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
