"""Neural-network building blocks: ``from tinygrad_opt import nn``.

Modules (``nn.Module``, containers), layers (``nn.Linear``, ``nn.BatchNorm1d``,
``nn.Dropout``, residual blocks), activations, losses, and the sub-modules
``nn.functional`` (the same computations as functions), ``nn.init``
(weight initialisation) and ``nn.utils`` (gradient clipping, penalties).
"""

from tinygrad_opt.nn.module import (Buffer, Flatten, Identity, Module, ModuleDict,
                                    ModuleList, Parameter, ParameterDict, ParameterList,
                                    Sequential)
from tinygrad_opt.nn.activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid,
                                        Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
                                        Mish, PReLU, ReLU, ReLU6, RReLU, Sigmoid, SiLU, Softmax,
                                        Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                                        Threshold)
from tinygrad_opt.nn.normalization import BatchNorm1d, GroupNorm, LayerNorm
from tinygrad_opt.nn.layers import Dropout, Linear, Maxout, Residual, ResidualBlock
from tinygrad_opt.nn import functional, init, utils
from tinygrad_opt.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, FocalLoss,
                                  HingeLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                                  MultiMarginLoss, NLLLoss, SmoothL1Loss)
from tinygrad_opt.nn.conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d,  # noqa: E402
                                  AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, BatchNorm2d, Conv1d,
                                  Conv2d, MaxPool1d, MaxPool2d)
from tinygrad_opt.nn.recurrent import (GRU, LSTM, RNN, Embedding, GRUCell,  # noqa: E402
                                       LSTMCell, RNNCell)
from tinygrad_opt.nn.layers_more import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.attention import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.transformer import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.conv_transpose import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.layers_extra import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.conv3d import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.lazy import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.loss_more import *  # noqa: E402,F401,F403  (its __all__)
from tinygrad_opt.nn.layers_surface import *  # noqa: E402,F401,F403  (its __all__)
