"""dlcore.nn: modules, parameters, initialisation and the functional API (dlcore.nn.functional is
dlcore.functional)."""
import sys as _sys

from .. import functional  # noqa: F401
from .parameter import Parameter, Buffer  # noqa: F401
from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from .linear import Identity, Linear, Flatten, Unflatten  # noqa: F401
from .layers import *  # noqa: F401,F403
from .more_layers import *  # noqa: F401,F403
from .more_layers2 import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .layers3d import *  # noqa: F401,F403
from .embedding_bag import EmbeddingBag  # noqa: F401
from .extra4 import *  # noqa: F401,F403  (FractionalMaxPool2d/3d, CrossMapLRN2d, SyncBatchNorm, NLLLoss2d, Container)
from .adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from .lazy import (UninitializedParameter, UninitializedBuffer, LazyLinear, LazyConv1d, LazyConv2d,  # noqa: F401
                   LazyConvTranspose1d, LazyConvTranspose2d, LazyBatchNorm1d, LazyBatchNorm2d, LazyInstanceNorm1d,
                   LazyInstanceNorm2d)
from .lazy import LazyConv3d, LazyConvTranspose3d, LazyBatchNorm3d, LazyInstanceNorm3d  # noqa: F401
from . import init, utils  # noqa: F401

_sys.modules[__name__ + ".functional"] = functional
