"""The composed and newer ops (layer/group norm, sort/topk/cumsum, interpolate, pad, einsum, repeat): dlcore vs
PyTorch CPU, forward (and forward+backward for the norms), each peer in its own process, alternated over rounds.

    python bench/ops_extra.py                  # 1 thread, 3 rounds
    python bench/ops_extra.py --threads 1,2 --rounds 5
    python bench/ops_extra.py --cases pad,conv3d     # only the cases whose names contain one of these

Validation first (in this process): every case's dlcore result is compared with torch's (values; indices for
sort/topk) and a case that disagrees stops the run. Each worker times its cases interleaved (median of 7), the
parent keeps each case's best median over the rounds and prints the ratio torch / dlcore (> 1: dlcore faster).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

LN = (8192, 512)
IMG = (16, 64, 32, 32)
SORT = (256, 1000)
ATT = (8, 8, 128, 64)
VOL = (2, 16, 16, 16, 16)
POOL3 = (4, 16, 16, 32, 32)


def cases(lib, np):
    """name -> zero-argument callable computing the case with `lib` (dlcore or torch)."""
    rng = np.random.default_rng(0)
    F = lib.nn.functional
    t = lib.from_numpy
    x_ln = rng.standard_normal(LN).astype(np.float32)
    w_ln = rng.standard_normal(LN[-1:]).astype(np.float32)
    b_ln = rng.standard_normal(LN[-1:]).astype(np.float32)
    img = rng.standard_normal(IMG).astype(np.float32)
    srt = rng.standard_normal(SORT).astype(np.float32)
    q = rng.standard_normal(ATT).astype(np.float32)
    k = rng.standard_normal(ATT).astype(np.float32)
    X, W, B, I, S, Q, K = t(x_ln), t(w_ln), t(b_ln), t(img), t(srt), t(q), t(k)
    ST = t(np.ascontiguousarray(srt.T))  # [1000, 256]: topk along dim 0 (strided lines)
    srt_l = rng.standard_normal((64, 100000)).astype(np.float32)
    SL = t(srt_l)
    srt_a = np.sort(srt, 1)  # ascending rows: every element enters a largest-k buffer
    srt_n = srt_a + 0.05 * rng.standard_normal(SORT).astype(np.float32)  # noisy rising rows
    SA, SN = t(srt_a), t(srt_n)
    Xg, Wg = t(x_ln.copy()).requires_grad_(True), t(w_ln.copy()).requires_grad_(True)
    Ig = t(img.copy()).requires_grad_(True)

    def ln_fb():
        F.layer_norm(Xg, LN[-1:], Wg, None).sum().backward()

    def gn_fb():
        F.group_norm(Ig, 8).sum().backward()

    def pad_fb():
        F.pad(Ig, (2, 2, 2, 2), mode="reflect").sum().backward()

    v3 = t(rng.standard_normal(VOL).astype(np.float32)).requires_grad_(True)
    w3 = t((rng.standard_normal((32, VOL[1], 3, 3, 3)) * 0.1).astype(np.float32)).requires_grad_(True)
    p3 = t(rng.standard_normal(POOL3).astype(np.float32)).requires_grad_(True)
    a_sq = rng.standard_normal((256, 256)).astype(np.float32) + 16 * np.eye(256, dtype=np.float32)
    A, Bsq = t(a_sq), t(rng.standard_normal((256, 64)).astype(np.float32))

    m1 = t(rng.uniform(-0.99, 0.99, 1 << 20).astype(np.float32))
    m2 = t(rng.standard_normal(1 << 20).astype(np.float32))
    c_a = t(rng.standard_normal((1024, 64)).astype(np.float32))
    c_b = t(rng.standard_normal((1024, 64)).astype(np.float32))
    ctc_lp = t(rng.standard_normal((50, 16, 20)).astype(np.float32)).requires_grad_(True)
    ctc_tg = t(rng.integers(1, 20, (16, 30)).astype(np.int64))
    ctc_il = t(np.full(16, 50, np.int64))
    ctc_tl = t(rng.integers(10, 30, 16).astype(np.int64))
    ps = [t(rng.standard_normal(1 << 18).astype(np.float32)).requires_grad_(True) for _ in range(8)]
    for p_ in ps:
        p_.grad = t(rng.standard_normal(1 << 18).astype(np.float32))
    nadam = lib.optim.NAdam(ps, lr=1e-3, weight_decay=1e-2)

    def ctc_fb():
        F.ctc_loss(F.log_softmax(ctc_lp, 2), ctc_tg, ctc_il, ctc_tl).backward()

    ctc_lpd = F.log_softmax(ctc_lp, 2).detach()
    r2 = np.random.default_rng(1)  # its own stream: the later cases' data stay as they were
    ctc2_x = t(r2.standard_normal((200, 32, 40)).astype(np.float32)).requires_grad_(True)
    ctc2_lp = F.log_softmax(ctc2_x, 2).detach()
    ctc2_tg = t(r2.integers(1, 40, (32, 50)).astype(np.int64))
    ctc2_il = t(r2.integers(150, 201, 32).astype(np.int64))
    ctc2_tl = t(r2.integers(30, 51, 32).astype(np.int64))

    def ctc2_fb():
        F.ctc_loss(F.log_softmax(ctc2_x, 2), ctc2_tg, ctc2_il, ctc2_tl).backward()

    def conv3d_fb():
        F.conv3d(v3, w3, padding=1).sum().backward()

    # more conv3d shapes: a video stem (3 channels), a deeper layer (and strided, grouped, dilated, 1x1x1 forms)
    vs = t(rng.standard_normal((1, 3, 16, 64, 64)).astype(np.float32)).requires_grad_(True)
    ws = t((rng.standard_normal((16, 3, 3, 3, 3)) * 0.1).astype(np.float32)).requires_grad_(True)
    vb = t(rng.standard_normal((4, 32, 8, 16, 16)).astype(np.float32)).requires_grad_(True)
    wb = t((rng.standard_normal((32, 32, 3, 3, 3)) * 0.1).astype(np.float32)).requires_grad_(True)
    wg = t((rng.standard_normal((32, 8, 3, 3, 3)) * 0.1).astype(np.float32)).requires_grad_(True)
    w1 = t((rng.standard_normal((32, 32, 1, 1, 1)) * 0.1).astype(np.float32)).requires_grad_(True)

    def c3(x, w, **kw):
        return lambda: F.conv3d(x.detach(), w.detach(), **kw)

    def c3fb(x, w, **kw):
        return lambda: F.conv3d(x, w, **kw).sum().backward()

    def maxpool3d_fb():
        F.max_pool3d(p3, 2).sum().backward()

    r3 = np.random.default_rng(3)  # (its own stream, as r2)
    sel = t(r3.integers(0, SORT[0], 512).astype(np.int64))
    sel_neg = t(r3.integers(-SORT[0], SORT[0], 512).astype(np.int64))
    cls = t(r3.integers(0, 256, 512).astype(np.int64))

    return {
        "clamp(-0.5, 0.5) [256,1000]": lambda: lib.clamp(S, -0.5, 0.5),
        "index_select dim 0, 512 of [256,1000]": lambda: lib.index_select(S, 0, sel),
        "x[idx], 512 of [256,1000]": lambda: S[sel_neg],
        "one_hot [512] x 256": lambda: F.one_hot(cls, 256),
        "norm(dim=1) [256,1000]": lambda: S.norm(dim=1),
        "layer_norm [8192,512] fwd": lambda: F.layer_norm(X, LN[-1:], W, B),
        "layer_norm [8192,512] f+b": ln_fb,
        "group_norm 8 [16,64,32,32] fwd": lambda: F.group_norm(I, 8),
        "group_norm 8 [16,64,32,32] f+b": gn_fb,
        "sort [256,1000] dim 1": lambda: (*lib.sort(S, 1), srt),
        "topk 5 [256,1000] dim 1": lambda: (*lib.topk(S, 5, 1), srt),
        "topk 1 [256,1000] dim 1": lambda: (*lib.topk(S, 1, 1), srt),
        "topk 10 [256,1000] dim 1": lambda: (*lib.topk(S, 10, 1), srt),
        "topk 10 smallest [256,1000] dim 1": lambda: (*lib.topk(S, 10, 1, largest=False), srt),
        "topk 50 [256,1000] dim 1": lambda: (*lib.topk(S, 50, 1), srt),
        "topk 500 [256,1000] dim 1": lambda: (*lib.topk(S, 500, 1), srt),
        "topk 5 [1000,256] dim 0": lambda: (*lib.topk(ST, 5, 0), srt.T, 0),
        "topk 10 [64,100000] dim 1": lambda: (*lib.topk(SL, 10, 1), srt_l),
        "topk 32 ascending rows [256,1000]": lambda: (*lib.topk(SA, 32, 1), srt_a),
        "topk 16 ascending rows [256,1000]": lambda: (*lib.topk(SA, 16, 1), srt_a),
        "topk 32 noisy rising rows [256,1000]": lambda: (*lib.topk(SN, 32, 1), srt_n),
        "topk 5 noisy rising rows [256,1000]": lambda: (*lib.topk(SN, 5, 1), srt_n),
        "kthvalue 500 [256,1000] dim 1": lambda: lib.kthvalue(S, 500, 1)[0],
        "cumsum [256,1000] dim 1": lambda: lib.cumsum(S, 1),
        "cumsum [256,1000] dim 0": lambda: lib.cumsum(S, 0),
        "interpolate bilinear x2 [16,64,32,32]": lambda: F.interpolate(I, scale_factor=2, mode="bilinear"),
        "interpolate nearest x2 [16,64,32,32]": lambda: F.interpolate(I, scale_factor=2, mode="nearest"),
        "pad reflect 2 [16,64,32,32]": lambda: F.pad(I, (2, 2, 2, 2), mode="reflect"),
        "pad reflect 2 [16,64,32,32] f+b": pad_fb,
        "pad replicate 2 [16,64,32,32]": lambda: F.pad(I, (2, 2, 2, 2), mode="replicate"),
        "pad circular 2 [16,64,32,32]": lambda: F.pad(I, (2, 2, 2, 2), mode="circular"),
        "conv3d 3^3 p1 [2,16,16^3]->32 fwd": lambda: F.conv3d(v3.detach(), w3.detach(), padding=1),
        "conv3d 3^3 p1 [2,16,16^3]->32 f+b": conv3d_fb,
        "conv3d 3^3 p1 [1,3,16,64^2]->16 fwd": c3(vs, ws, padding=1),
        "conv3d 3^3 p1 [1,3,16,64^2]->16 f+b": c3fb(vs, ws, padding=1),
        "conv3d 3^3 p1 [4,32,8,16^2]->32 fwd": c3(vb, wb, padding=1),
        "conv3d 3^3 p1 [4,32,8,16^2]->32 f+b": c3fb(vb, wb, padding=1),
        "conv3d 3^3 s2 p1 [4,32,8,16^2]->32 f+b": c3fb(vb, wb, stride=2, padding=1),
        "conv3d 3^3 g4 p1 [4,32,8,16^2]->32 f+b": c3fb(vb, wg, padding=1, groups=4),
        "conv3d 3^3 d2 p2 [4,32,8,16^2]->32 f+b": c3fb(vb, wb, padding=2, dilation=2),
        "conv3d 1^3 [4,32,8,16^2]->32 f+b": c3fb(vb, w1),
        "max_pool3d 2 [4,16,16,32,32] f+b": maxpool3d_fb,
        "linalg.solve [256,256] x [256,64]": lambda: lib.linalg.solve(A, Bsq),
        "asin 1M": lambda: lib.asin(m1),
        "atan2 1M": lambda: lib.atan2(m1, m2),
        "erfinv 1M": lambda: lib.erfinv(m1),
        "median dim 1 [256,1000]": lambda: lib.median(S, 1)[0],
        "cdist [1024,64] x [1024,64]": lambda: lib.cdist(c_a, c_b),
        "ctc_loss T50 N16 C20 fwd": lambda: F.ctc_loss(ctc_lpd, ctc_tg, ctc_il, ctc_tl),
        "ctc_loss T50 N16 C20 f+b": ctc_fb,
        "ctc_loss T200 N32 C40 S50 fwd": lambda: F.ctc_loss(ctc2_lp, ctc2_tg, ctc2_il, ctc2_tl),
        "ctc_loss T200 N32 C40 S50 f+b": ctc2_fb,
        "NAdam step 8 x 256K": nadam.step,
        "einsum bhqd,bhkd->bhqk [8,8,128,64]": lambda: lib.einsum("bhqd,bhkd->bhqk", Q, K),
        "repeat (1,2,1,2) [16,64,32,32]": lambda: I.repeat(1, 2, 1, 2),
    }


def validate(only):
    import numpy as np
    import torch
    import dlcore
    dc, tc = cases(dlcore, np), cases(torch, np)
    for name in dc:
        if "f+b" in name or " step " in name or (only and not any(o in name for o in only)):
            continue
        a, b = dc[name](), tc[name]()
        if isinstance(b, tuple):  # (values, indices): same values; indices pointing at them (ties may differ:
            # dlcore's order is the stable one, torch's sort is not)
            av, ai = a[0].numpy(), a[1].numpy()
            assert np.array_equal(av, b[0].numpy()), f"{name}: values differ from torch's"
            ax = a[3] if len(a) > 3 else 1  # (values, indices, source, axis)
            assert np.array_equal(np.take_along_axis(a[2], ai, ax), av), f"{name}: indices do not give the values"
            a, b = a[0], b[0]
        a, b = a.numpy(), b.detach().numpy()
        assert a.shape == b.shape, f"{name}: shape {a.shape} vs torch {b.shape}"
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        assert err < 1e-4, f"{name}: differs from torch (relative {err:.2e})"
    print("validated: every case matches torch", flush=True)


def worker(framework, threads, only):
    import numpy as np
    if framework == "torch":
        import torch as lib
        lib.set_num_threads(threads)
    else:
        import dlcore as lib
        lib.set_num_threads(threads)
    cs = cases(lib, np)
    if only:
        cs = {k: v for k, v in cs.items() if any(o in k for o in only)}
    times = interleaved(cs, repeat=7, min_time=0.05)
    print(json.dumps({k: v * 1e6 for k, v in times.items()}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", choices=["dlcore", "torch"])
    p.add_argument("--cases", default="", help="comma-separated substrings of the case names to run (default all)")
    a = p.parse_args()
    only = [c for c in a.cases.split(",") if c]
    threads = [int(x) for x in a.threads.split(",")]
    if a.worker:
        return worker(a.worker, threads[0], only)
    validate(only)
    rows = []
    for th in threads:
        best = {"dlcore": {}, "torch": {}}
        for _ in range(a.rounds):
            for fw in ("dlcore", "torch"):
                r = run_json(__file__, ["--worker", fw, "--threads", str(th), "--cases", a.cases], th)
                for k, v in r.items():
                    best[fw][k] = min(best[fw].get(k, float("inf")), v)
        for k in best["dlcore"]:
            d, t = best["dlcore"][k], best["torch"][k]
            rows.append([th, k, f"{d:.0f}", f"{t:.0f}", f"{t / d:.2f}x"])
    print("float32; microseconds, best of the rounds' medians; 'vs torch' = torch time / dlcore time")
    print(fmt_table(rows, ["thr", "case", "dlcore us", "torch us", "vs torch"]))


if __name__ == "__main__":
    main()
