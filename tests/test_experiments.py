"""The vanishing-gradient study behind ``tinygrad-opt vanishing``."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.cli.args import ArgumentParser
from tinygrad_opt.cli.vanishing import add_vanishing_command
from tinygrad_opt.experiments import KINDS, deep_mlp, layer_table, vanishing_study


@pytest.mark.parametrize("kind", KINDS)
def test_deep_mlp_has_depth_linear_layers(kind):
    model = deep_mlp(kind, depth=6, width=8, in_features=5, num_classes=3)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 6
    assert linears[0].in_features == 5 and linears[-1].out_features == 3
    assert model(tg.ones(4, 5)).shape == (4, 3)
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == ("batchnorm" in kind)
    assert any(isinstance(m, nn.ResidualBlock) for m in model.modules()) == ("residual" in kind)


def test_deep_mlp_rejects_bad_settings():
    with pytest.raises(ValueError, match="unknown kind"):
        deep_mlp("softmax")
    with pytest.raises(ValueError, match="even depth"):
        deep_mlp("relu+residual", depth=7)
    with pytest.raises(ValueError, match="at least 3"):
        deep_mlp("relu", depth=2)


def test_study_records_per_layer_norms_at_init_and_after_training(device):
    results = vanishing_study(("sigmoid", "relu+residual"), depth=6, width=16, epochs=1,
                              batch_size=64, seed=0, device=device, train_samples=128,
                              log=None)
    for result in results.values():
        assert len(result["grad_init"]) == len(result["grad_trained"]) == 6
        assert result["grad_steps"].shape == (2, 6)          # 128 samples / 64 per batch
        assert np.all(result["grad_init"] > 0) and len(result["train_loss"]) == 1
    sigmoid = results["sigmoid"]["grad_init"]
    assert sigmoid[0] < sigmoid[-1] / 100                    # vanishes already at depth 6
    assert results["sigmoid"]["dead_init"] != results["sigmoid"]["dead_init"]  # NaN: no ReLU
    text = layer_table(results)
    assert text.splitlines()[0].split() == ["layer", "sigmoid", "relu+residual"]
    assert len(text.splitlines()) == 2 + 6


def parse(argv):
    parser = ArgumentParser(prog="tinygrad-opt")
    subparsers = parser.add_subparsers(dest="command", parser_class=ArgumentParser)
    add_vanishing_command(subparsers)
    return parser.parse_args(argv)


def test_command_prints_the_per_layer_table(capsys):
    args = parse(["vanishing", "--quick", "--models", "sigmoid,relu", "--seed", "1"])
    assert args.run(args) == 0
    output = capsys.readouterr().out
    assert "seed 1" in output and "Summary:" in output
    assert "L10" in output and "L11" not in output           # quick: 10 layers
    assert output.count("sigmoid") >= 3


def test_command_accepts_the_relu_variants(capsys):
    args = parse(["vanishing", "--models", "leaky_relu,elu,selu,maxout", "--depth", "4",
                  "--epochs", "0"])
    assert args.run(args) == 0
    summary = capsys.readouterr().out.split("Summary:")[1].split("wall time")[0]
    rows = {line.split()[0]: line.split() for line in summary.splitlines()[3:] if line.strip()}
    assert list(rows) == ["leaky_relu", "elu", "selu", "maxout"]
    assert rows["maxout"][6] == "-"                  # no activation module: nothing counted


def test_command_rejects_unknown_models_and_odd_depth():
    args = parse(["vanishing", "--models", "sigmoid,swish"])
    with pytest.raises(ValueError, match="swish"):
        args.run(args)
    args = parse(["vanishing", "--depth", "9"])
    with pytest.raises(ValueError, match="even"):
        args.run(args)
