"""dlcore.training.evaluate: mean cross-entropy, accuracy and confusion matrix against NumPy float64, batches moved
to the device given (a cpu loader feeding a model on another device), the model left in training mode."""
import numpy as np

import dlcore
from dlcore import nn
from dlcore.training import evaluate


def test_evaluate_matches_numpy(device, rng):
    model = nn.Linear(6, 4)
    model.to(device)
    xs = [rng.standard_normal((n, 6)).astype(np.float32) for n in (5, 7, 3)]
    ys = [rng.integers(0, 4, n) for n in (5, 7, 3)]
    loader = [(dlcore.tensor(x), dlcore.tensor(y)) for x, y in zip(xs, ys)]  # cpu batches
    model.train()
    loss, acc, conf = evaluate(model, loader, device, num_classes=4)
    assert model.training
    W = model.weight.detach().to("cpu").numpy().astype(np.float64)
    b = model.bias.detach().to("cpu").numpy().astype(np.float64)
    X, Y = np.concatenate(xs).astype(np.float64), np.concatenate(ys)
    z = X @ W.T + b
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    ref_loss = float(np.mean(lse - z[np.arange(len(Y)), Y]))
    pred = z.argmax(1)
    ref_conf = np.zeros((4, 4), np.int64)
    np.add.at(ref_conf, (Y, pred), 1)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    assert acc == np.mean(pred == Y)
    np.testing.assert_array_equal(conf, ref_conf)
