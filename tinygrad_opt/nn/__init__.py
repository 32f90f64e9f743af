"""Neural-network building blocks: ``from tinygrad_opt import nn``.

Modules (``nn.Module``, containers), layers (``nn.Linear``, ``nn.BatchNorm1d``,
``nn.Dropout``, residual blocks), activations, losses, and the sub-modules
``nn.functional`` (the same computations as functions), ``nn.init``
(weight initialisation) and ``nn.utils`` (gradient clipping, penalties).
"""

from tinygrad_opt.nn.module import (Flatten, Identity, Module, ModuleList, Parameter,
                                    Sequential)
from tinygrad_opt.nn.activation import (ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSoftmax,
                                        PReLU, ReLU, RReLU, Sigmoid, SiLU, Softmax, Softplus,
                                        Softsign, Tanh)
from tinygrad_opt.nn.normalization import BatchNorm1d, LayerNorm
from tinygrad_opt.nn.layers import Dropout, Linear, Maxout, Residual, ResidualBlock
from tinygrad_opt.nn import functional, init, utils
from tinygrad_opt.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, FocalLoss,
                                  HingeLoss, HuberLoss, L1Loss, MSELoss, MultiMarginLoss,
                                  NLLLoss, SmoothL1Loss)
from tinygrad_opt.nn.conv import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d  # noqa: E402
from tinygrad_opt.nn.recurrent import (GRU, LSTM, RNN, Embedding, GRUCell,  # noqa: E402
                                       LSTMCell, RNNCell)
