#!/usr/bin/env python3
"""CUDA compile gate: builds the device code of every .cu file with nvcc (no GPU needed) under the project's strict
flags and checks each kernel against the register / shared-memory / stack budget in csrc/cuda/kernel_budget.tsv.

Flags: -Werror all-warnings; ptxas -warn-spills as an error everywhere; -warn-double-usage and -warn-lmem-usage as
errors except in files named *_f64_cuda.cu (float64 kernels; ptxas reports double use per PTX line, not per kernel);
-Xptxas -v is parsed into per-kernel registers, shared memory, stack frame and spills.

  python scripts/cuda_compile_gate.py            # check (exit 1 on any violation; 77 when nvcc is absent)
  python scripts/cuda_compile_gate.py --update   # rewrite the budget file from the current build
  options: --arch 90, --jobs N, --nvcc PATH

A kernel over budget, a new kernel missing from the file, or any spill fails the gate. Budgets are the measured
values: raising one is a deliberate edit of kernel_budget.tsv, reviewed like code.
"""
import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = os.path.join(ROOT, "csrc", "cuda", "kernel_budget.tsv")
SKIP = 77


def find_nvcc(explicit):
    for c in [explicit, os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def cu_files():
    out = []
    for sub in ("csrc/cuda", "csrc/ops"):
        for d, _, files in os.walk(os.path.join(ROOT, sub)):
            if "/emu" in d.replace(os.sep, "/"):
                continue
            out += [os.path.join(d, f) for f in files if f.endswith(".cu")]
    return sorted(out)


ENTRY = re.compile(r"Compiling entry function '([^']+)' for")
PROPS = re.compile(r"Function properties for (\S+)")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers(?:, used \d+ barriers)?(?:, (\d+) bytes smem)?")


def compile_one(nvcc, path, arch):
    rel = os.path.relpath(path, ROOT)
    f64 = path.endswith("_f64_cuda.cu")
    ptxas = "-v,-warn-spills" + ("" if f64 else ",-warn-double-usage,-warn-lmem-usage")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [nvcc, "-cubin", f"-arch=sm_{arch}", "-std=c++20", "-O3", "--expt-relaxed-constexpr",
               "-Werror", "all-warnings", f"-Xptxas={ptxas}", "-Xptxas=-Werror", "-DDLCORE_WITH_CUDA=1",
               f"-I{os.path.join(ROOT, 'csrc')}", path, "-o", os.path.join(tmp, "k.cubin")]
        r = subprocess.run(cmd, capture_output=True, text=True)
    text = r.stdout + r.stderr
    kernels = {}
    cur = None
    for line in text.splitlines():
        m = ENTRY.search(line)
        if m:
            cur = m.group(1)
            kernels[cur] = {"regs": 0, "smem": 0, "stack": 0, "spill": 0}
            continue
        m = PROPS.search(line)
        if m:
            cur = m.group(1) if m.group(1) in kernels else cur
            continue
        m = FRAME.search(line)
        if m and cur in kernels:
            kernels[cur]["stack"] = int(m.group(1))
            kernels[cur]["spill"] = int(m.group(2)) + int(m.group(3))
            continue
        m = USED.search(line)
        if m and cur in kernels:
            kernels[cur]["regs"] = int(m.group(1))
            kernels[cur]["smem"] = int(m.group(2) or 0)
    errors = [l for l in text.splitlines() if ("error" in l.lower() or "warning" in l.lower()) and "ptxas info" not in l]
    return rel, r.returncode, kernels, errors


def read_budget():
    budget = {}
    if not os.path.exists(BUDGET):
        return budget
    with open(BUDGET) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            file, kernel, regs, smem, stack = line.rstrip("\n").split("\t")
            budget[(file, kernel)] = (int(regs), int(smem), int(stack))
    return budget


def write_budget(results):
    with open(BUDGET, "w") as f:
        f.write("# Per-kernel budget checked by scripts/cuda_compile_gate.py (sm_90, nvcc -O3): a kernel may use at most\n"
                "# these registers / bytes of static shared memory / bytes of stack frame. Regenerate with --update\n"
                "# after a deliberate change and review the diff.\n"
                "# file\tkernel (mangled)\tregisters\tsmem_bytes\tstack_bytes\n")
        for rel, _, kernels, _ in sorted(results):
            for k in sorted(kernels):
                v = kernels[k]
                f.write(f"{rel}\t{k}\t{v['regs']}\t{v['smem']}\t{v['stack']}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--arch", default="90")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--nvcc")
    args = ap.parse_args()
    nvcc = find_nvcc(args.nvcc)
    if not nvcc:
        print("cuda_compile_gate: nvcc not found (set NVCC or put it on PATH); skipped")
        return SKIP
    files = cu_files()
    with cf.ThreadPoolExecutor(max(1, args.jobs)) as ex:
        results = list(ex.map(lambda p: compile_one(nvcc, p, args.arch), files))
    failed = False
    for rel, rc, kernels, errors in results:
        if rc != 0:
            failed = True
            print(f"FAIL {rel}: nvcc exited {rc}")
            for e in errors[:20]:
                print("   ", e)
        for k, v in kernels.items():
            if v["spill"]:
                failed = True
                print(f"FAIL {rel}: {k} spills {v['spill']} bytes")
    nk = sum(len(r[2]) for r in results)
    if args.update:
        if failed:
            print("cuda_compile_gate: not updating the budget: fix the errors above first")
            return 1
        write_budget(results)
        print(f"cuda_compile_gate: wrote {nk} kernels of {len(files)} files to {os.path.relpath(BUDGET, ROOT)}")
        return 0
    budget = read_budget()
    seen = set()
    for rel, _, kernels, _ in results:
        for k, v in kernels.items():
            seen.add((rel, k))
            b = budget.get((rel, k))
            if b is None:
                failed = True
                print(f"FAIL {rel}: kernel {k} has no budget (regs {v['regs']}, smem {v['smem']}, stack "
                      f"{v['stack']}); run scripts/cuda_compile_gate.py --update and review the diff")
                continue
            for name, val, lim in (("registers", v["regs"], b[0]), ("smem bytes", v["smem"], b[1]),
                                   ("stack bytes", v["stack"], b[2])):
                if val > lim:
                    failed = True
                    print(f"FAIL {rel}: {k} uses {val} {name}, budget {lim}")
    stale = [k for k in budget if k not in seen]
    if stale:
        print(f"note: {len(stale)} budget entries no longer match a kernel (run --update to drop them)")
    print(f"cuda_compile_gate: {len(files)} files, {nk} kernels, sm_{args.arch}: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
