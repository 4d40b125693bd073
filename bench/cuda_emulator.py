"""Speed of the SIMT emulator (emulated builds only): a 1M-thread kernel (4096 blocks of 256) where every thread
passes 2 * rounds __syncthreads, validated first (each thread must end with its neighbour's index), then timed
(median of 5). Also the per-switch cost and the ucontext fallback, each in its own process.

  PYTHONPATH=python python bench/cuda_emulator.py
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import timeit  # noqa: E402

import dlcore  # noqa: E402

CPU = 0.0


def measure(rounds=2, n=1 << 20, block=256):
    out = dlcore.empty(n, device="cuda")
    dlcore._C._emu_barrier_rounds(out, block, rounds)
    t = np.arange(n) % block
    exp = (t + rounds) % block
    got = out.cpu().numpy()
    assert (got == exp).all(), "barrier_rounds_kernel gave wrong values: not timing"
    dlcore._C._emu_reset_stats()
    import time
    c0 = time.process_time()
    sec = timeit(lambda: dlcore._C._emu_barrier_rounds(out, block, rounds), repeat=5, number=1)
    global CPU
    CPU = (time.process_time() - c0) / dlcore._C._emu_stats()["launches"]  # CPU seconds per launch
    st = dlcore._C._emu_stats()
    sw = st["switches"] / max(st["launches"], 1)
    return sec, sw


def main():
    if not dlcore.cuda.is_emulated():
        print("not an emulated build: nothing to measure")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sec, sw = measure()
        print(f"{CPU:.4f} {sw:.0f}")
        return
    for rounds in (0, 2, 4):
        sec, sw = measure(rounds)
        print(f"asm context, {dlcore.cuda.get_emulator_schedule():>9}: 1M threads, {2 * rounds} barriers each: "
              f"{sec * 1e3:7.1f} ms wall, {CPU * 1e3:7.1f} ms CPU  ({sw / 1e6:.1f} M switches, "
              f"{CPU / sw * 1e9:.0f} CPU ns per switch incl. work)")
    dlcore.cuda.set_emulator_schedule("random:1")
    sec, sw = measure(2)
    print(f"asm context, random order: 1M threads, 4 barriers each: {sec * 1e3:7.1f} ms wall, {CPU * 1e3:7.1f} ms CPU")
    env = dict(os.environ, DLCORE_SIMT_CONTEXT="ucontext")
    r = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True)
    sec, sw = map(float, r.stdout.split())
    print(f"ucontext fallback, forward: 1M threads, 4 barriers each: {sec * 1e3:7.1f} ms CPU")


if __name__ == "__main__":
    main()
