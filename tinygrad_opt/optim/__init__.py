"""Optimizers: the update rules that turn gradients into parameter changes.

Every optimizer follows PyTorch's data model (``param_groups``, ``state``,
``step(closure=None)``, ``state_dict``): see ``optimizer.py`` for the base
class, then one file per rule, each with its update rule as math in its
docstring and one code line per math line.
"""

from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.optim import optimizer as _optimizer, hooks as _hooks

# torch.optim.optimizer's global step hooks, at the same name (they live in optim/hooks.py)
_optimizer.register_optimizer_step_pre_hook = _hooks.register_optimizer_step_pre_hook
_optimizer.register_optimizer_step_post_hook = _hooks.register_optimizer_step_post_hook

# First-order rules, one file each.
from tinygrad_opt.optim.sgd import SGD
from tinygrad_opt.optim.adam import Adam, AdamW
from tinygrad_opt.optim.adagrad import Adagrad
from tinygrad_opt.optim.rmsprop import RMSprop
from tinygrad_opt.optim.adadelta import Adadelta
from tinygrad_opt.optim.nadam import NAdam
from tinygrad_opt.optim.adamax import Adamax
from tinygrad_opt.optim.radam import RAdam
from tinygrad_opt.optim.rprop import Rprop
from tinygrad_opt.optim.asgd import ASGD
from tinygrad_opt.optim.adafactor import Adafactor

# Closure-driven and second-order rules (LBFGS, Newton, CoordinateDescent) and
# the submodules lr_scheduler and swa_utils are imported here, below this line,
# by the files that define them.
from tinygrad_opt.optim.lbfgs import LBFGS
from tinygrad_opt.optim.newton import Newton
from tinygrad_opt.optim.coordinate_descent import CoordinateDescent
from tinygrad_opt.optim import lr_scheduler, swa_utils
