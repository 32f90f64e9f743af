"""Signatures of the optimizers, schedules, data loading, checkpoints and distributions
against PyTorch's: a positional call in PyTorch's order means what it means in PyTorch,
and PyTorch's keywords work. The expected numbers are worked out by hand in the comments."""

import inspect
import io
import pickle
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, TensorDataset, default_collate, random_split
from tinygrad_opt.distributions import constraints
from tinygrad_opt.optim import lr_scheduler as sched
from tinygrad_opt.optim.swa_utils import AveragedModel

# --- the parameter lists: PyTorch's positional parameters, in order, with defaults ---

_ = inspect.Parameter.empty
OPTIMIZERS = {
    optim.SGD: [("lr", 1e-3), ("momentum", 0), ("dampening", 0), ("weight_decay", 0),
                ("nesterov", False)],
    optim.Adam: [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0),
                 ("amsgrad", False)],
    optim.AdamW: [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8),
                  ("weight_decay", 1e-2), ("amsgrad", False)],
    optim.Adagrad: [("lr", 1e-2), ("lr_decay", 0), ("weight_decay", 0),
                    ("initial_accumulator_value", 0), ("eps", 1e-10), ("foreach", None)],
    optim.Adadelta: [("lr", 1.0), ("rho", 0.9), ("eps", 1e-6), ("weight_decay", 0),
                     ("foreach", None)],
    optim.Adamax: [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0),
                   ("foreach", None)],
    optim.ASGD: [("lr", 1e-2), ("lambd", 1e-4), ("alpha", 0.75), ("t0", 1e6),
                 ("weight_decay", 0), ("foreach", None), ("maximize", False),
                 ("differentiable", False), ("capturable", False)],
    optim.RMSprop: [("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0),
                    ("momentum", 0), ("centered", False), ("capturable", False),
                    ("foreach", None), ("maximize", False), ("differentiable", False)],
    optim.NAdam: [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0),
                  ("momentum_decay", 4e-3), ("decoupled_weight_decay", False)],
    optim.RAdam: [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0),
                  ("decoupled_weight_decay", False)],
    optim.Rprop: [("lr", 1e-2), ("etas", (0.5, 1.2)), ("step_sizes", (1e-6, 50))],
    optim.Adafactor: [("lr", 1e-2), ("beta2_decay", -0.8), ("eps", (None, 1e-3)), ("d", 1.0),
                      ("weight_decay", 0.0)],
    optim.LBFGS: [("lr", 1), ("max_iter", 20), ("max_eval", None), ("tolerance_grad", 1e-7),
                  ("tolerance_change", 1e-9), ("history_size", 100),
                  ("line_search_fn", None)],
}

SCHEDULERS = {
    sched.StepLR: [("step_size", _), ("gamma", 0.1)],
    sched.MultiStepLR: [("milestones", _), ("gamma", 0.1)],
    sched.ConstantLR: [("factor", 1.0 / 3), ("total_iters", 5)],
    sched.LinearLR: [("start_factor", 1.0 / 3), ("end_factor", 1.0), ("total_iters", 5)],
    sched.ExponentialLR: [("gamma", _)],
    sched.SequentialLR: [("schedulers", _), ("milestones", _)],
    sched.PolynomialLR: [("total_iters", 5), ("power", 1.0)],
    sched.CosineAnnealingLR: [("T_max", _), ("eta_min", 0.0)],
    sched.LambdaLR: [("lr_lambda", _)],
    sched.MultiplicativeLR: [("lr_lambda", _)],
    sched.CosineAnnealingWarmRestarts: [("T_0", _), ("T_mult", 1), ("eta_min", 0.0)],
    sched.CyclicLR: [("base_lr", _), ("max_lr", _), ("step_size_up", 2000),
                     ("step_size_down", None), ("mode", "triangular"), ("gamma", 1.0),
                     ("scale_fn", None), ("scale_mode", "cycle"), ("cycle_momentum", True),
                     ("base_momentum", 0.8), ("max_momentum", 0.9)],
    sched.OneCycleLR: [("max_lr", _), ("total_steps", None), ("epochs", None),
                       ("steps_per_epoch", None), ("pct_start", 0.3),
                       ("anneal_strategy", "cos"), ("cycle_momentum", True),
                       ("base_momentum", 0.85), ("max_momentum", 0.95), ("div_factor", 25.0),
                       ("final_div_factor", 1e4), ("three_phase", False)],
}


def _positional(callable_, skip):
    parameters = list(inspect.signature(callable_).parameters.values())[skip:]
    return [(p.name, p.default) for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@pytest.mark.parametrize("cls", list(OPTIMIZERS), ids=lambda c: c.__name__)
def test_optimizer_positional_parameters_are_pytorchs(cls):
    expected = OPTIMIZERS[cls]
    assert _positional(cls, 1)[:len(expected)] == expected  # (after params)


@pytest.mark.parametrize("cls", list(SCHEDULERS), ids=lambda c: c.__name__)
def test_scheduler_positional_parameters_are_pytorchs(cls):
    expected = [("optimizer", _)] + SCHEDULERS[cls] + [("last_epoch", -1),
                                                       ("verbose", "deprecated")]
    assert _positional(cls, 0) == expected


def test_reduce_lr_on_plateau_takes_verbose_last():
    names = [name for name, _default in _positional(sched.ReduceLROnPlateau, 0)]
    assert names == ["optimizer", "mode", "factor", "patience", "threshold", "threshold_mode",
                     "cooldown", "min_lr", "eps", "verbose"]


# --- optimizers: PyTorch's positional foreach no longer lands on maximize ---

def _one_step(make, theta=1.0, g=2.0):
    """θ after one step of ``make([p])`` from θ with gradient g."""
    p = tg.tensor([theta], dtype=tg.float64, requires_grad=True)
    optimizer = make([p])
    p.grad = tg.tensor([g], dtype=tg.float64)
    optimizer.step()
    return p.item()


def test_adagrad_seventh_positional_is_foreach():
    # s = 0 + 2² = 4; θ = 1 − 0.1·2/(√4 + ε) (a descent: maximize stays False)
    theta = _one_step(lambda ps: optim.Adagrad(ps, 0.1, 0, 0, 0, 1e-10, True))
    assert theta == pytest.approx(1 - 0.2 / (2 + 1e-10), rel=1e-12)


def test_adadelta_sixth_positional_is_foreach():
    # v = 0.1·4 = 0.4; Δ = √(0 + ε)/√(0.4 + ε)·2; θ = 1 − 1.0·Δ
    eps = 1e-6
    delta = np.sqrt(eps) / np.sqrt(0.4 + eps) * 2
    theta = _one_step(lambda ps: optim.Adadelta(ps, 1.0, 0.9, eps, 0, True))
    assert theta == pytest.approx(1 - delta, rel=1e-12)


def test_adamax_sixth_positional_is_foreach():
    # m = 0.1·2 = 0.2, u = max(0, 2 + ε); θ = 1 − 0.002·(0.2 / (1 − 0.9)) / u
    theta = _one_step(lambda ps: optim.Adamax(ps, 0.002, (0.9, 0.999), 1e-8, 0, True))
    assert theta == pytest.approx(1 - 0.002 * 2.0 / (2 + 1e-8), rel=1e-12)


@pytest.mark.parametrize("make", [
    lambda ps, **k: optim.SGD(ps, 0.1, 0.9, **k),
    lambda ps, **k: optim.Adam(ps, 0.1, **k),
    lambda ps, **k: optim.AdamW(ps, 0.1, **k),
])
def test_foreach_changes_no_number(make):
    # PyTorch's foreach picks a kernel, never a result: every value gives the same step
    steps = {_one_step(lambda ps: make(ps, foreach=value)) for value in (None, False, True)}
    assert len(steps) == 1 and steps != {1.0}


def test_asgd_positional_order_is_pytorchs():
    # foreach=True, maximize=False: θ = (1 − λ·η)·1 − η·2 with η = lr = 0.01
    theta = _one_step(lambda ps: optim.ASGD(ps, 0.01, 1e-4, 0.75, 1e6, 0, True))
    assert theta == pytest.approx((1 - 1e-4 * 0.01) - 0.02, rel=1e-12)
    # the eighth positional is maximize: the step climbs
    theta = _one_step(lambda ps: optim.ASGD(ps, 0.01, 1e-4, 0.75, 1e6, 0, None, True))
    assert theta == pytest.approx((1 - 1e-4 * 0.01) + 0.02, rel=1e-12)


def test_rmsprop_positional_order_is_pytorchs():
    # PyTorch: (..., centered, capturable, foreach, maximize, differentiable)
    # v = 0.01·4 = 0.04, √v = 0.2; maximize: θ = 1 + 0.1·2/0.2 = 2
    theta = _one_step(lambda ps: optim.RMSprop(ps, 0.1, 0.99, 0.0, 0, 0, False, False, None,
                                               True, False))
    assert theta == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad,
                                 optim.Adadelta, optim.Adamax, optim.ASGD, optim.RMSprop,
                                 optim.NAdam, optim.RAdam, optim.Rprop, optim.Adafactor])
def test_pytorch_switches_are_accepted_at_their_defaults(cls):
    p = tg.tensor([1.0], requires_grad=True)
    names = set(inspect.signature(cls).parameters)
    options = {name: value for name, value in
               (("foreach", None), ("differentiable", False), ("capturable", False))
               if name in names}
    assert "foreach" in options
    cls([p], foreach=True)  # one code path: any foreach
    cls([p], **options)
    if "differentiable" in options:
        with pytest.raises(NotImplementedError, match=f"{cls.__name__}: differentiable=True"):
            cls([p], differentiable=True)


def test_capturable_true_is_accepted_only_by_rules_a_graph_can_replay():
    p = tg.tensor([1.0], requires_grad=True)
    optim.RMSprop([p], capturable=True)
    optim.Adadelta([p], capturable=True)
    for cls in (optim.Adam, optim.AdamW, optim.Adamax, optim.NAdam, optim.RAdam, optim.Rprop,
                optim.ASGD):
        with pytest.raises(NotImplementedError, match=f"{cls.__name__}: capturable=True"):
            cls([p], capturable=True)


# --- schedules: PyTorch's deprecated verbose ---

def _optimizer():
    return optim.SGD([tg.tensor([1.0], requires_grad=True)], lr=0.1)


def test_schedulers_take_verbose_positionally_after_last_epoch():
    scheduler = sched.StepLR(_optimizer(), 2, 0.5, -1, "deprecated")
    scheduler.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(0.05)]


@pytest.mark.parametrize("make", [
    lambda o, **k: sched.StepLR(o, 1, **k),
    lambda o, **k: sched.ExponentialLR(o, 0.9, **k),
    lambda o, **k: sched.CosineAnnealingLR(o, 10, **k),
    lambda o, **k: sched.CosineAnnealingWarmRestarts(o, 3, **k),
    lambda o, **k: sched.OneCycleLR(o, 1.0, total_steps=10, **k),
    lambda o, **k: sched.CyclicLR(o, 0.01, 0.1, cycle_momentum=False, **k),
    lambda o, **k: sched.ReduceLROnPlateau(o, **k),
    lambda o, **k: sched.SequentialLR(o, [sched.ConstantLR(o), sched.StepLR(o, 2)], [3], **k),
])
def test_verbose_other_than_deprecated_warns_and_changes_nothing(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(_optimizer(), verbose="deprecated")  # the default: silent
    optimizer = _optimizer()
    with pytest.warns(UserWarning, match="verbose parameter is deprecated"):
        make(optimizer, verbose=True)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(make(_optimizer()).optimizer
                                                            .param_groups[0]["lr"])


# --- swa_utils.AveragedModel: PyTorch's (model, device, avg_fn, multi_avg_fn, use_buffers) ---

def test_averaged_model_positional_arguments_are_pytorchs():
    model = nn.Linear(2, 1)
    calls = []

    def avg_fn(averaged, current, count):
        calls.append(count)
        return averaged + 10.0

    averaged = AveragedModel(model, "cpu", avg_fn)
    assert averaged.module.weight.device == "cpu"
    averaged.update_parameters(model)              # the first update copies
    averaged.update_parameters(model)              # the second calls avg_fn(w̄, w, 1)
    assert calls == [1, 1]                         # weight and bias
    np.testing.assert_allclose(averaged.module.weight.numpy(), model.weight.numpy() + 10.0)
    ema = AveragedModel(model, mode="ema", decay=0.5)   # ours, by keyword
    assert (ema.mode, ema.decay) == ("ema", 0.5)


# --- data: DataLoader's and random_split's PyTorch order, default_collate(batch=) ---

def _dataset(n=5):
    return TensorDataset(np.arange(float(n)), np.arange(n))


def _firsts(loader):
    return [batch[0].numpy().tolist() if isinstance(batch, list) else batch
            for batch in loader]


def test_dataloader_fourth_positional_is_the_sampler():
    # PyTorch: DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, num_workers,
    #                     collate_fn, pin_memory, drop_last, ...)
    assert _firsts(DataLoader(_dataset(), 2, False, [3, 1, 0])) == [[3.0, 1.0], [0.0]]
    assert _firsts(DataLoader(_dataset(), 1, None, None, [[4, 2], [0]])) == [[4.0, 2.0], [0.0]]
    sizes = DataLoader(_dataset(), 2, False, None, None, 0, len)
    assert list(sizes) == [2, 2, 1]                 # collate_fn is the seventh
    dropped = DataLoader(_dataset(), 2, False, None, None, 0, None, False, True)
    assert len(dropped) == 2                        # drop_last is the ninth


def test_dataloader_generator_is_the_thirteenth_positional():
    by_keyword = DataLoader(_dataset(9), 4, True, seed=7)
    positional = DataLoader(_dataset(9), 4, True, None, None, 0, None, False, False, 0, None,
                            None, 7)
    assert _firsts(positional) == _firsts(by_keyword)


def test_dataloader_worker_options_pytorch_refuses():
    ds = _dataset()
    for options, message in [({"prefetch_factor": 2}, "prefetch_factor"),
                             ({"persistent_workers": True}, "persistent_workers"),
                             ({"timeout": -1}, "timeout"),
                             ({"multiprocessing_context": "spawn"}, "multiprocessing_context"),
                             ({"num_workers": 2, "prefetch_factor": -1}, "prefetch_factor")]:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **options)
    loader = DataLoader(ds, 2, shuffle=None, pin_memory_device="", in_order=False)
    assert _firsts(loader) == [[0.0, 1.0], [2.0, 3.0], [4.0]]


def test_random_split_third_positional_is_the_generator():
    names = list(inspect.signature(random_split).parameters)[:3]
    assert names == ["dataset", "lengths", "generator"]
    a = random_split(_dataset(10), [6, 4], np.random.default_rng(3))
    b = random_split(_dataset(10), [6, 4], generator=np.random.default_rng(3))
    assert [s.indices for s in a] == [s.indices for s in b]
    assert sorted(a[0].indices + a[1].indices) == list(range(10))


def test_default_collate_takes_batch_by_keyword():
    X, y = default_collate(batch=[(np.array([1.0, 2.0]), 0), (np.array([3.0, 4.0]), 1)])
    np.testing.assert_array_equal(X.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert y.tolist() == [0, 1]


def test_utils_data_has_distributed_sampler():
    from tinygrad_opt.distributed import DistributedSampler
    assert tg.utils.data.DistributedSampler is DistributedSampler


# --- tg.save / tg.load: torch.save(obj, f, pickle_module, pickle_protocol),
#     torch.load(f, map_location, pickle_module, *, weights_only, mmap) ---

def test_save_and_load_take_pytorchs_names_and_order(tmp_path):
    path = tmp_path / "run.ckpt"
    tg.save(obj={"w": tg.tensor([1.0, 2.0])}, f=path)
    tg.save({"w": tg.tensor([1.0, 2.0])}, path, pickle, 4)   # accepted; not a pickle
    for loaded in (tg.load(f=path, map_location="cpu"), tg.load(path, "cpu", None),
                   tg.load(path, None, pickle, weights_only=True, mmap=None),
                   tg.load(path, device="cpu")):
        assert loaded["w"].tolist() == [1.0, 2.0]


def test_save_and_load_refuse_what_they_cannot_honour(tmp_path):
    path = tmp_path / "run.ckpt"
    tg.save({"w": 1}, path)
    with pytest.raises(ValueError, match="load: pickle_module"):
        tg.load(path, None, io)
    with pytest.raises(NotImplementedError, match="mmap=True"):
        tg.load(path, mmap=True)
    with pytest.raises(TypeError, match="save: f must be a file path .* got int"):
        tg.save({"w": 1}, 3)                                 # (a BytesIO is accepted)
    with pytest.raises(TypeError, match="load: f must be a file path"):
        tg.load(object())


# --- distributions ---

def test_dependent_property_takes_fn():
    def support(self):
        return constraints.real

    prop = constraints.dependent_property(fn=support, event_dim=1)
    assert prop.fget is support and prop.event_dim == 1
