"""Optimizers (being written): see optimizer.py."""

from tinygrad_opt.optim.optimizer import Optimizer
