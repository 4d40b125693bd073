"""dlcore.optim: optimizers whose updates run in fused native kernels (one call per parameter group and step),
and learning-rate schedulers (dlcore.optim.lr_scheduler)."""
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from . import lr_scheduler  # noqa: F401
