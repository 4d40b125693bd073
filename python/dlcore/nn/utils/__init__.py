"""dlcore.nn.utils: gradient clipping and norms, parameter/vector conversion, weight/spectral norm and
parametrizations, conv/linear + batch-norm fusion, packed sequences (rnn)."""
from .clip_grad import clip_grad_norm_, clip_grad_norm, clip_grad_value_  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .total_norm import get_total_norm, clip_grads_with_norm_  # noqa: F401
from .weight_norm import weight_norm, remove_weight_norm  # noqa: F401
from .spectral_norm import spectral_norm, remove_spectral_norm  # noqa: F401
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights  # noqa: F401
from .init import skip_init  # noqa: F401
from . import parametrize, parametrizations, fusion  # noqa: F401
from . import stateless  # noqa: F401
from . import rnn  # noqa: F401
from . import prune  # noqa: F401
from .rnn import PackedSequence  # noqa: F401
