"""Regression tests for defects found by fuzzing the recurrent and convolution/pooling layers against PyTorch."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _d(t, grad=False):
    x = dlcore.tensor(t.detach().numpy().copy())
    if grad:
        x.requires_grad_(True)
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_input_grad_single_row_read_from_padding(dtype, groups):
    # H = 1, kernel height 1, stride 3, top padding 1: the one output row reads padding only, so dx must be 0 (the
    # CPU kernel's conv1d shortcut returned the output gradient as if row 0 were read)
    torch.manual_seed(0)
    tdt = getattr(torch, dtype)
    x = torch.randn(2, 2, 1, 3, dtype=tdt, requires_grad=True)
    w = torch.randn(2, 2 // groups, 1, 2, dtype=tdt, requires_grad=True)
    xd, wd = _d(x, True), _d(w, True)
    yt = TF.conv2d(x, w, None, (3, 1), (1, 1), 1, groups)
    yd = F.conv2d(xd, wd, None, (3, 1), (1, 1), 1, groups)
    g = torch.randn_like(yt)
    yt.backward(g)
    yd.backward(_d(g))
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xd.grad.numpy(), x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wd.grad.numpy(), w.grad.numpy(), rtol=1e-5, atol=1e-6)
    # the create_graph path (the conv family of _nn_conv) too
    xd2, wd2 = _d(x, True), _d(w, True)
    gx, = dlcore.autograd.grad(F.conv2d(xd2, wd2, None, (3, 1), (1, 1), 1, groups), xd2, _d(g), create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), x.grad.numpy(), atol=1e-6)


def test_conv_transpose2d_single_row_output_from_padding():
    # conv_transpose2d with the same geometry: x [.., 1, W], stride 3, padding 1, output_padding 2 -> one output row
    # that no input reaches: only the bias
    torch.manual_seed(0)
    x = torch.randn(1, 2, 1, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 1, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    xd, wd, bd = _d(x, True), _d(w, True), _d(b, True)
    yt = TF.conv_transpose2d(x, w, b, (3, 1), (1, 0), (2, 0))
    yd = F.conv_transpose2d(xd, wd, bd, (3, 1), (1, 0), (2, 0))
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), atol=1e-12)
    g = torch.randn_like(yt)
    yt.backward(g)
    yd.backward(_d(g))
    for a, t in ((xd, x), (wd, w), (bd, b)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-12)


def test_conv_transpose_module_output_size_range_is_torchs():
    # stride 1, dilation 2: torch accepts only the minimum size (output_padding < stride); dlcore accepted one more
    t = torch.nn.ConvTranspose1d(2, 3, 2, stride=1, dilation=2)
    d = dlcore.nn.ConvTranspose1d(2, 3, 2, stride=1, dilation=2)
    d.load_state_dict({k: _d(v) for k, v in t.state_dict().items()})
    x = torch.randn(1, 2, 4)
    with pytest.raises(ValueError):
        t(x, output_size=[7])
    with pytest.raises(ValueError):
        d(_d(x), output_size=[7])
    np.testing.assert_allclose(d(_d(x), output_size=[6]).detach().numpy(), t(x, output_size=[6]).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # stride 3: sizes lo .. lo + 2 are valid in both
    t = torch.nn.ConvTranspose2d(2, 3, 2, stride=3)
    d = dlcore.nn.ConvTranspose2d(2, 3, 2, stride=3)
    d.load_state_dict({k: _d(v) for k, v in t.state_dict().items()})
    x = torch.randn(1, 2, 2, 2)
    np.testing.assert_allclose(d(_d(x), output_size=[7, 6]).detach().numpy(),
                               t(x, output_size=[7, 6]).detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        d(_d(x), output_size=[8, 6])


def test_avgpool1d_attributes_are_1_tuples_like_torch():
    for kw in (dict(kernel_size=3), dict(kernel_size=[3], stride=(2,), padding=1)):
        d, t = dlcore.nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw)
        assert (d.kernel_size, d.stride, d.padding) == (t.kernel_size, t.stride, t.padding)
        assert repr(d) == repr(t)
        x = torch.randn(2, 3, 9)
        np.testing.assert_allclose(d(_d(x)).numpy(), t(x).numpy(), rtol=1e-6, atol=1e-6)


def test_pad_packed_sequence_total_length_must_be_int():
    from dlcore.nn.utils.rnn import pack_sequence, pad_packed_sequence
    p = pack_sequence([dlcore.randn(3, 2), dlcore.randn(1, 2)])
    with pytest.raises(TypeError):
        pad_packed_sequence(p, total_length=5.0)
    assert list(pad_packed_sequence(p, total_length=np.int64(5))[0].shape) == [5, 2, 2]


def test_lstm_proj_dtype_mismatch_is_a_clear_error():
    m = dlcore.nn.LSTM(2, 3, proj_size=1)
    with pytest.raises(TypeError, match="dtype"):
        m(dlcore.ones(3, 1, 2, dtype=dlcore.float64))
