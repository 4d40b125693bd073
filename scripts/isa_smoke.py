"""One call into every CPU kernel family (import, tables, dispatch): run under valgrind, which emulates a CPU without
AVX-512, it shows that no code built for an ISA the CPU lacks runs (an AVX-512 instruction is a SIGILL there):
    valgrind --tool=none python scripts/isa_smoke.py
tests/test_isa_portability.py runs it that way (opt-in: DLCORE_TEST_VALGRIND=1). Prints the active ISA and 'ok'."""
import numpy as np

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F


def main():
    rng = np.random.default_rng(0)
    t = lambda *s: dlcore.tensor(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    x = t(4, 3, 12, 12).requires_grad_(True)
    y = F.conv2d(x, t(6, 3, 3, 3), t(6), padding=1)                       # im2col / winograd / direct
    y = F.conv2d(y, t(6, 1, 3, 3), groups=6)                              # depthwise
    y = F.max_pool2d(F.relu(y), 2) + F.avg_pool2d(y, 2)
    y = F.batch_norm(y, None, None, training=True)
    y = F.local_response_norm(F.gelu(y), 3)
    y = F.dropout(F.tanh(y), 0.2)
    z = F.conv3d(t(1, 2, 6, 6, 6).requires_grad_(True), t(4, 2, 3, 3, 3))
    loss = F.cross_entropy(y.flatten(1) @ t(y[0].numel(), 5), dlcore.tensor(np.array([0, 1, 2, 3])))
    loss = loss + F.softmax(z.flatten(1), 1).sum() + F.log_softmax(t(3, 7), 1).sum()
    lstm, gru = nn.LSTM(5, 8), nn.GRU(5, 8)
    s = t(4, 2, 5)
    loss = loss + lstm(s)[0].sum() + gru(s)[0].sum()
    loss.backward()
    m = nn.Linear(5, 3)
    for opt in (dlcore.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), dlcore.optim.Adam(m.parameters())):
        m(t(2, 5)).sum().backward()
        opt.step()
    lp = F.log_softmax(t(10, 2, 5), 2)
    F.ctc_loss(lp, dlcore.tensor(np.array([[1, 2], [3, 4]])), [10, 9], [2, 2])
    a = t(50, 200)
    dlcore.topk(a, 5, 1), dlcore.sort(a, 1), dlcore.kthvalue(a, 3, 1)
    (a.exp().log1p().sigmoid() * 2).sum(1).mean(), a.max(1), a.cumsum(1), a @ t(200, 30)
    dlcore.tensor(np.arange(10.0)).double().sqrt().sum()
    print(dlcore._C._cpu_isa_supported(), "ok")


if __name__ == "__main__":
    main()
