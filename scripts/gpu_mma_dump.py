#!/usr/bin/env python3
"""Runs the mma.sync / ldmatrix test kernels (dlcore._C._emu_mma, _emu_ldmatrix) on fixed inputs and saves or
compares their raw outputs: run --save on a real GPU build, then --compare in the emulated build to check the
emulator's fragment layouts and arithmetic against the hardware bit for bit (ldmatrix) and within rounding (mma).

  python scripts/gpu_mma_dump.py --save mma_hw.npz       # on the GPU
  python scripts/gpu_mma_dump.py --compare mma_hw.npz    # here, emulated build
"""
import argparse
import sys

import numpy as np

import dlcore


def dev(a):
    a = np.ascontiguousarray(a)
    if a.dtype == np.uint16:
        a = a.view(np.float16)
    return dlcore.from_numpy(a).to("cuda")


def bits16(a, kind):
    if kind == 1:
        u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return a.astype(np.float16).view(np.uint16)


def run_all():
    res = {}
    for kind in (0, 1, 2):
        rng = np.random.default_rng(100 + kind)
        K = 8 if kind == 0 else 16
        A = rng.standard_normal((16, K)).astype(np.float32)
        B = rng.standard_normal((K, 8)).astype(np.float32)
        C = rng.standard_normal((16, 8)).astype(np.float32)
        if kind:
            A, B = bits16(A, kind), bits16(B, kind)
        D = dlcore.zeros((16, 8), device="cuda")
        dlcore._C._emu_mma(dev(A), dev(B), dev(C), D, kind)
        res[f"mma{kind}"] = D.cpu().numpy()
    for n in (1, 2, 4):
        for trans in (False, True):
            M = (np.arange(n * 64, dtype=np.uint16) * 7 + 3).astype(np.uint16)
            out = dlcore.zeros((32, 4), dtype=dlcore.int32, device="cuda")
            dlcore._C._emu_ldmatrix(dev(M), out, n, trans)
            res[f"ldm{n}{int(trans)}"] = out.cpu().numpy()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--save")
    ap.add_argument("--compare")
    a = ap.parse_args()
    res = run_all()
    where = "emulated" if dlcore.cuda.is_emulated() else dlcore.cuda.get_device_name()
    if a.save:
        np.savez(a.save, device=np.array(where), **res)
        print(f"saved {len(res)} results from {where} to {a.save}")
    if a.compare:
        ref = np.load(a.compare)
        bad = 0
        for k, v in res.items():
            r = ref[k]
            ok = np.array_equal(v, r) if k.startswith("ldm") else np.allclose(v, r, rtol=1e-5, atol=1e-5)
            print(f"{k}: {'same' if ok else 'DIFFERENT'} (max |diff| {np.max(np.abs(v.astype(np.float64) - r)):.3g})")
            bad += not ok
        print(f"{where} vs {ref['device']}: {'all match' if not bad else f'{bad} differ'}")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
