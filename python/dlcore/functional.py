"""dlcore.functional (re-exported as dlcore.nn.functional): the neural-network ops with PyTorch's signatures.

Each family lives in its own module; this page only gathers them:
  _ops        linear (and the tensor math)
  _nn_conv    conv1d, conv2d, conv_transpose1d, conv_transpose2d (and their gradients)
  _nn_layers  pooling, activations, softmax/log_softmax, losses, batch_norm, local_response_norm, dropout, embedding
  _nn_rnn     the recurrent cells and sequence functions behind nn.LSTM/GRU/RNN
  _nn_extra   pad, interpolate, pixel_shuffle, layer/group/instance norm, one_hot, normalize, distances, kl_div,
              hardswish, hardsigmoid, selu, celu, prelu, glu, threshold, softshrink, hardshrink
"""
from ._ops import linear  # noqa: F401
from ._nn_conv import *  # noqa: F401,F403
from ._nn_layers import *  # noqa: F401,F403
from ._nn_rnn import *  # noqa: F401,F403
from ._nn_extra import *  # noqa: F401,F403
from ._nn_extra2 import *  # noqa: F401,F403  (more losses incl. ctc_loss, unfold/fold, bilinear, rrelu, unpool, ...)
from ._attention import scaled_dot_product_attention, multi_head_attention_forward  # noqa: F401
from ._nn_3d import *  # noqa: F401,F403  (conv3d, conv_transpose3d, the 3-D pools)
from ._torch_extra import gumbel_softmax, embedding_bag, affine_grid, grid_sample  # noqa: F401,E402
from ._nn_extra4 import *  # noqa: F401,F403,E402  (fractional_max_pool2d/3d and their *_with_indices forms)

