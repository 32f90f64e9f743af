"""Lines that no other test reached in the nn layers and functionals (attention, embedding
bags, CTC, unpooling, fractional pooling, grid_sample, channel dropout, normalisations,
reprs), gradient checkpointing's output checks, metrics and preprocessing's input checks,
the ensemble helpers, the hyperparameter search (spaces, trials, results, Bayesian
search) and the vanishing-gradient study's plots.

Each test checks what a PyTorch (or scikit-learn) user expects there: the exception type
and a message naming what was wrong, or the right values and gradients, against NumPy
formulas written here or a second, independent computation. Three found bugs, fixed with
them: NumPy integers as channel_shuffle / pixel_shuffle factors, pairwise_distance of two
0-d tensors, and counts given as None, inf or a string (``_checks.whole_number``)."""

import collections
import copy
import json
import math
import os

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ensemble as E
from tinygrad_opt import experiments, metrics, nn, optim, preprocessing, tune
from tinygrad_opt.tune import result, space, trials
from tinygrad_opt.tune.result import SearchResult, Trial
from tinygrad_opt.utils.checkpoint import checkpoint


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ===================================================================== scaled dot-product attention

def test_sdpa_rejects_a_one_dimensional_query():
    with pytest.raises(ValueError, match=r"at least 2 dims.*\(4,\)"):
        F.scaled_dot_product_attention(tg.ones(4), tg.ones(3, 4), tg.ones(3, 4))


def test_sdpa_gqa_needs_query_heads_a_multiple_of_key_heads():
    query, kv = tg.ones(1, 3, 2, 4), tg.ones(1, 2, 2, 4)       # 3 query heads, 2 kv heads
    with pytest.raises(ValueError, match="enable_gqa.*multiple"):
        F.scaled_dot_product_attention(query, kv, kv, enable_gqa=True)
    with pytest.raises(ValueError, match="enable_gqa.*dim -3"):   # no head dim at all
        F.scaled_dot_product_attention(tg.ones(2, 4), tg.ones(2, 4), tg.ones(2, 4),
                                       enable_gqa=True)


# ===================================================================== multi_head_attention_forward

def mha(query, key, value, embed_dim=4, num_heads=2, **kwargs):
    weight = tg.ones(3 * embed_dim, embed_dim)
    out_weight = tg.ones(embed_dim, embed_dim)
    return F.multi_head_attention_forward(query, key, value, embed_dim, num_heads, weight, None,
                                          None, None, False, 0.0, out_weight, None, **kwargs)


def test_mha_forward_embed_dim_not_divisible_by_heads():
    x = tg.ones(2, 1, 6)
    with pytest.raises(ValueError, match="embed_dim 6 not divisible by num_heads 4"):
        mha(x, x, x, embed_dim=6, num_heads=4)


def test_mha_forward_key_and_value_must_match():
    with pytest.raises(ValueError, match=r"key of shape \(3, 1, 4\) does not match value"):
        mha(tg.ones(2, 1, 4), tg.ones(3, 1, 4), tg.ones(2, 1, 4))


def test_mha_forward_key_dims_must_follow_the_query():
    with pytest.raises(ValueError, match="batched.*expected key and value to be 3-D"):
        mha(tg.ones(2, 1, 4), tg.ones(3, 4), tg.ones(3, 4))


def test_mha_forward_key_padding_mask_dims():
    x, kv = tg.ones(2, 1, 4), tg.ones(3, 1, 4)
    with pytest.raises(ValueError, match="key_padding_mask to be None or 2-D"):
        mha(x, kv, kv, key_padding_mask=tg.ones(3, dtype=tg.bool))


def test_mha_forward_attn_mask_must_be_2d_or_3d():
    x, kv = tg.ones(2, 1, 4), tg.ones(3, 1, 4)
    with pytest.raises(ValueError, match="attn_mask to be None, 2-D or 3-D"):
        mha(x, kv, kv, attn_mask=tg.zeros(3))


def test_mha_forward_unbatched_3d_attn_mask_needs_one_per_head():
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(2, 2, 3\) \(num_heads, L, S\)"):
        mha(tg.ones(2, 4), tg.ones(3, 4), tg.ones(3, 4), attn_mask=tg.zeros(1, 2, 3))


def test_mha_forward_refuses_an_integer_mask():
    x, kv = tg.ones(2, 1, 4), tg.ones(3, 1, 4)
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        mha(x, kv, kv, attn_mask=tg.zeros(2, 3, dtype=tg.int64))


def test_mha_forward_static_k_shape_is_checked():
    x, kv = tg.ones(2, 1, 4), tg.ones(3, 1, 4)
    with pytest.raises(ValueError, match=r"static_k of shape \(2, S, 2\)"):
        mha(x, kv, kv, static_k=tg.ones(2, 3, 3))


# ===================================================================== embedding_bag / EmbeddingBag

def test_embedding_bag_unsupported_options_and_bad_mode():
    weight, bags = tg.ones(4, 3), tg.tensor([0, 1])
    with pytest.raises(NotImplementedError, match="sparse gradients"):
        F.embedding_bag(bags, weight, tg.tensor([0]), sparse=True)
    with pytest.raises(ValueError, match="mode must be 'sum', 'mean' or 'max', got 'min'"):
        F.embedding_bag(bags, weight, tg.tensor([0]), mode="min")


def test_embedding_bag_takes_plain_lists_as_indices_and_offsets(device):
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    weight = as_tensor(table, device)
    y = F.embedding_bag([0, 1, 3], weight, [0, 2], mode="sum")          # bags [0, 1], [3]
    expected = np.stack([table[0] + table[1], table[3]])
    np.testing.assert_array_equal(y.numpy(), expected)
    assert y.device == weight.device


def test_embedding_bag_input_and_weight_checks():
    weight = tg.ones(4, 3)
    with pytest.raises(TypeError, match="integer indices, got float32"):
        F.embedding_bag(tg.tensor([0.0, 1.0]), weight, tg.tensor([0]))
    with pytest.raises(ValueError, match=r"weight must be 2-D .*\(4,\)"):
        F.embedding_bag(tg.tensor([0, 1]), tg.ones(4), tg.tensor([0]))
    with pytest.raises(ValueError, match="padding_idx 4 must be within num_embeddings 4"):
        F.embedding_bag(tg.tensor([0, 1]), weight, tg.tensor([0]), padding_idx=4)
    with pytest.raises(ValueError, match=r"per_sample_weights of shape \(3,\) must have the "
                                         r"input's shape \(2,\)"):
        F.embedding_bag(tg.tensor([0, 1]), weight, tg.tensor([0]), mode="sum",
                        per_sample_weights=tg.ones(3))


def test_embedding_bag_input_and_offsets_shapes():
    weight = tg.ones(4, 3)
    with pytest.raises(ValueError, match=r"input must be 1-D \(with offsets\) or 2-D"):
        F.embedding_bag(tg.zeros(1, 1, 2, dtype=tg.int64), weight)
    with pytest.raises(ValueError, match=r"offsets has to be a 1-D tensor, got shape \(1, 1\)"):
        F.embedding_bag(tg.tensor([0, 1]), weight, tg.tensor([[0]]))
    # include_last_offset needs at least the end offset
    with pytest.raises(ValueError, match=r"offsets has to be a 1-D tensor, got shape \(0,\)"):
        F.embedding_bag(tg.tensor([0, 1]), weight, tg.tensor([], dtype=tg.int64),
                        include_last_offset=True)


def test_embedding_bag_module_checks_its_arguments():
    with pytest.raises(ValueError, match="padding_idx 4 must be within num_embeddings 4"):
        nn.EmbeddingBag(4, 3, padding_idx=4)
    with pytest.raises(ValueError, match=r"weight of shape \(3, 3\) does not match \(4, 3\)"):
        nn.EmbeddingBag(4, 3, _weight=tg.ones(3, 3))
    with pytest.raises(ValueError, match=r"from_pretrained: expected a 2-D tensor"):
        nn.EmbeddingBag.from_pretrained(tg.ones(3))


def test_embedding_bag_repr_shows_a_non_default_norm_type():
    assert repr(nn.EmbeddingBag(4, 3, norm_type=1.0)) == \
        "EmbeddingBag(4, 3, norm_type=1.0, mode='mean')"
    assert repr(nn.EmbeddingBag(4, 3, mode="sum")) == "EmbeddingBag(4, 3, mode='sum')"


# ===================================================================== CTC loss

def test_ctc_loss_target_layout_checks():
    log_probs = tg.randn(5, 2, 4).log_softmax(-1)
    with pytest.raises(ValueError, match=r"padded targets of shape \(2, 2\) need 2 rows and at "
                                         r"least max\(target_lengths\) = 3 columns"):
        F.ctc_loss(log_probs, tg.tensor([[1, 2], [1, 1]]), [5, 5], [3, 2])
    with pytest.raises(ValueError, match=r"padded targets of shape \(1, 2\) need 2 rows"):
        F.ctc_loss(log_probs, tg.tensor([[1, 2]]), [5, 5], [2, 2])
    with pytest.raises(ValueError, match=r"1-D concatenated with sum\(target_lengths\) = 4 "
                                         r"labels, got shape \(3,\)"):
        F.ctc_loss(log_probs, tg.tensor([1, 2, 1]), [5, 5], [2, 2])


def test_ctc_loss_log_probs_must_be_2d_or_3d():
    with pytest.raises(ValueError, match=r"log_probs must be \(T, N, C\) or \(T, C\)"):
        F.ctc_loss(tg.zeros(5, 2, 4, 1), tg.tensor([[1, 2], [1, 1]]), [5, 5], [2, 2])


# ============================================================ unpooling, fractional pooling

def test_max_unpool2d_output_size_length_and_indices_shape():
    x = tg.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"output_size must have 2 or 4 elements, got \(4,\)"):
        F.max_unpool2d(pooled, indices, 2, output_size=(4,))
    with pytest.raises(ValueError, match=r"indices of shape \(1, 1, 1, 2\) do not match the input"):
        F.max_unpool2d(pooled, indices[:, :, :1], 2)
    # the full (N, C, H, W) output_size is accepted, as in PyTorch
    y = F.max_unpool2d(pooled, indices, 2, output_size=(1, 1, 4, 4))
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[1::2, 1::2] = np.arange(16).reshape(4, 4)[1::2, 1::2]   # each window's maximum
    np.testing.assert_array_equal(y.numpy()[0, 0], expected)


def test_fractional_max_pool2d_output_ratio_giving_zero_size():
    with pytest.raises(ValueError, match=r"output size \(0, 0\) must be positive"):
        F.fractional_max_pool2d(tg.ones(1, 1, 4, 4), 2, output_ratio=0.2)   # ⌊4·0.2⌋ = 0


def test_channel_shuffle_groups_must_be_a_positive_int():
    x = tg.ones(1, 4, 2)
    with pytest.raises(ValueError, match="groups must be a positive int, got 0"):
        F.channel_shuffle(x, 0)
    with pytest.raises(ValueError, match="groups must be a positive int, got 2.0"):
        F.channel_shuffle(x, 2.0)


@pytest.mark.parametrize("op, channels", [(F.channel_shuffle, 4), (F.pixel_shuffle, 4),
                                          (F.pixel_unshuffle, 1)])
def test_shuffles_take_a_numpy_integer_factor(op, channels):
    x = tg.tensor(np.arange(channels * 16, dtype=np.float32).reshape(1, channels, 4, 4))
    if op is F.channel_shuffle:                 # y[:, j·g + i] = x[:, i·(C/g) + j], g = 2
        np.testing.assert_array_equal(op(x, 2).numpy()[0], x.numpy()[0][[0, 2, 1, 3]])
    np.testing.assert_array_equal(op(x, np.int64(2)).numpy(), op(x, 2).numpy())


# ===================================================================== functional_more

def test_one_hot_rejects_num_classes_below_minus_one():
    with pytest.raises(ValueError, match="num_classes must be -1 or non-negative, got -2"):
        F.one_hot(tg.tensor([0, 1]), -2)


def test_pairwise_distance_of_two_scalars_is_their_distance():
    d = F.pairwise_distance(tg.tensor(1.0), tg.tensor(3.0))
    assert d.shape == ()
    assert d.item() == pytest.approx(abs(1.0 - 3.0 + 1e-6))


def test_interpolate_size_with_recompute_scale_factor():
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an "
                                         "explicit size"):
        F.interpolate(tg.ones(1, 1, 4), size=8, recompute_scale_factor=True)


def test_interpolate_scale_factor_entries_must_match_spatial_dims():
    with pytest.raises(ValueError, match=r"scale_factor \(2, 2, 2\) has 3 entries.*2 spatial"):
        F.interpolate(tg.ones(1, 1, 4, 4), scale_factor=(2, 2, 2))


def test_pixel_shuffle_and_unshuffle_need_three_dims():
    with pytest.raises(ValueError, match=r"pixel_shuffle: expected an input \(\*, C, H, W\)"):
        F.pixel_shuffle(tg.ones(4, 2), 2)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: expected an input \(\*, C, H, W\)"):
        F.pixel_unshuffle(tg.ones(4, 2), 2)


def test_bilinear_weight_and_bias_shapes():
    x1, x2 = tg.ones(2, 3), tg.ones(2, 4)
    with pytest.raises(ValueError, match=r"weight must be 3-D \(out, in1, in2\)"):
        F.bilinear(x1, x2, tg.ones(5, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\), got \(4,\)"):
        F.bilinear(x1, x2, tg.ones(5, 3, 4), tg.ones(4))


def test_instance_norm_input_and_running_stats_checks():
    with pytest.raises(ValueError, match=r"instance_norm: expected an input \(N, C, \*\) with "
                                         "spatial dims"):
        F.instance_norm(tg.ones(2, 3))
    with pytest.raises(ValueError, match="running_mean and running_var are needed when "
                                         "use_input_stats=False"):
        F.instance_norm(tg.ones(2, 3, 4), use_input_stats=False)


def test_local_response_norm_of_an_empty_input_is_that_input(device):
    x = as_tensor(np.zeros((0, 3, 4), dtype=np.float32), device)
    y = F.local_response_norm(x, 2)
    assert y.shape == (0, 3, 4) and y.dtype == x.dtype


def test_grid_sample_reflection_of_a_single_pixel_row(device):
    """align_corners=True with reflection: a dim of size 1 maps every coordinate to pixel 0,
    with gradient 0 (PyTorch's reflect_coordinates); the other dim reflects in [0, W − 1]."""
    image = as_tensor(np.array([[[[0.0, 1.0, 2.0]]]]), device)            # (1, 1, H=1, W=3)
    points = np.array([[[[-0.7, 0.3], [0.2, -0.9], [0.9, 0.8]]]])          # (1, 1, 3, 2): (x, y)
    grid = as_tensor(points, device, requires_grad=True)
    out = F.grid_sample(image, grid, padding_mode="reflection", align_corners=True)
    # pixel x = (gx + 1) / 2 · (W − 1) = gx + 1 lies inside [0, 2]; the image is x itself
    np.testing.assert_allclose(out.numpy()[0, 0, 0], points[0, 0, :, 0] + 1.0, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(grid.grad.numpy()[0, 0, :, 0], [1.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(grid.grad.numpy()[0, 0, :, 1], [0.0, 0.0, 0.0])


def test_dropout2d_inplace_writes_the_channel_dropout_into_its_input(device):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(2, 3, 4, 4)) + 5.0                             # no zeros by chance
    tg.manual_seed(7)
    expected = F.dropout2d(as_tensor(data, device), 0.5, training=True).numpy()
    leaf = as_tensor(data, device, requires_grad=True)
    x = leaf * 1.0
    tg.manual_seed(7)
    returned = F.dropout2d(x, 0.5, training=True, inplace=True)
    assert returned is x
    np.testing.assert_array_equal(x.numpy(), expected)
    factors = x.numpy() / data                                             # 0 or 2 per channel
    per_channel = factors[:, :, :1, :1]
    np.testing.assert_allclose(factors, np.broadcast_to(per_channel, factors.shape))
    assert set(np.round(per_channel.ravel(), 6)) <= {0.0, 2.0}
    x.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), factors)


# ===================================================================== modules: reprs and checks

def test_avg_pool_reprs_match_pytorch():
    assert repr(nn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AvgPool3d(3, 2, 1)) == "AvgPool3d(kernel_size=3, stride=2, padding=1)"


def test_maxout_needs_at_least_one_piece():
    with pytest.raises(ValueError, match="Maxout: pieces must be at least 1, got 0"):
        nn.Maxout(3, 2, 0)


def test_a_subclass_of_rnn_cell_base_uses_plain_subclass_checks():
    class MyCell(nn.RNNCellBase):
        pass

    class MyOtherCell(MyCell):
        pass

    assert issubclass(nn.LSTMCell, nn.RNNCellBase)        # the special rule of the base itself
    assert issubclass(MyOtherCell, MyCell)
    assert not issubclass(nn.LSTMCell, MyCell)            # not every cell is a MyCell


def test_adaptive_log_softmax_reset_parameters_redraws_every_linear():
    module = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 7], div_value=2.0)
    before = {name: p.numpy().copy() for name, p in module.named_parameters()}
    module.reset_parameters()
    after = {name: p.numpy() for name, p in module.named_parameters()}
    assert before.keys() == after.keys() and len(after) == 5   # head + 2 tails of 2 Linears
    for name, value in after.items():
        assert value.shape == before[name].shape
        assert not np.array_equal(value, before[name]), name
        bound = 1 / math.sqrt(value.shape[1])                  # kaiming_uniform(a=√5) of Linear
        assert np.abs(value).max() <= bound


def test_adaptive_log_softmax_target_and_input_dims_must_agree():
    module = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 7], div_value=2.0)
    with pytest.raises(RuntimeError, match=r"a 1-D target expects a 2-D input.*\(8,\)"):
        module(tg.randn(8), tg.tensor([1]))
    with pytest.raises(RuntimeError, match=r"a 0-D target expects a 1-D input.*\(2, 8\)"):
        module(tg.randn(2, 8), tg.tensor(1))


def test_adaptive_log_softmax_repr_lists_its_configuration():
    text = repr(nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 7], div_value=2.0, head_bias=True))
    assert "in_features=8, n_classes=10, cutoffs=[4, 7], div_value=2.0, head_bias=True" in text


# ===================================================================== gradient checkpointing

def test_checkpoint_recomputation_must_require_grad_where_the_forward_did():
    x = as_tensor([1.0, 2.0, 3.0], requires_grad=True)
    calls = []

    def block(x):
        calls.append(1)
        b = x * 3
        return x * 2, (b if len(calls) == 1 else b.detach())

    a, b = checkpoint(block, x)
    with pytest.raises(RuntimeError, match="recomputation returned other outputs than the "
                                           "forward"):
        (a.sum() + b.sum()).backward()


def test_checkpoint_recomputation_must_keep_the_shapes():
    x = as_tensor([1.0, 2.0, 3.0], requires_grad=True)
    calls = []

    def block(x):
        calls.append(1)
        b = x * 3
        return x * 2, (b if len(calls) == 1 else b[:2])

    a, b = checkpoint(block, x)
    with pytest.raises(RuntimeError, match=r"recomputation returned shapes \[\(3,\), \(2,\)\], "
                                           r"the forward \[\(3,\), \(3,\)\]"):
        (a.sum() + b.sum()).backward()


def test_checkpoint_outputs_needing_grad_must_share_a_dtype():
    x64 = as_tensor([1.0, 2.0, 3.0], requires_grad=True)
    x32 = as_tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="must share one dtype and device, got float64 on 'cpu', "
                                        "float32 on 'cpu'"):
        checkpoint(lambda a, b: (a * 2, b * 2), x64, x32)


def test_checkpoint_keeps_a_named_tuple_and_its_gradients(device):
    Pair = collections.namedtuple("Pair", "square label")
    values = np.array([1.0, 2.0, 3.0])
    x = as_tensor(values, device, requires_grad=True)
    out = checkpoint(lambda a: Pair(a * a, "tag"), x)
    assert type(out) is Pair and out.label == "tag"
    np.testing.assert_allclose(out.square.numpy(), values ** 2)
    (out.square * as_tensor([1.0, 10.0, 100.0], device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * values * [1.0, 10.0, 100.0])


# ===================================================================== metrics

def test_metrics_accept_a_column_of_labels():
    # (N, 1) integer labels are read as (N,), as scikit-learn's column_or_1d
    assert metrics.accuracy(np.array([[0], [1], [1]]), np.array([0, 1, 0])) == pytest.approx(2 / 3)


def test_metrics_reject_labels_of_the_wrong_shape_or_kind():
    with pytest.raises(ValueError, match=r"accuracy: y_true must be labels of shape \(N,\).*"
                                         r"\(2, 2, 2\)"):
        metrics.accuracy(np.zeros((2, 2, 2), dtype=int), np.array([0, 1]))
    with pytest.raises(TypeError, match="y_true must hold integer class labels, got dtype <U1"):
        metrics.accuracy(np.array(["a", "b"]), np.array([0, 1]))
    with pytest.raises(TypeError, match="y_true must be numeric, got an object array"):
        metrics.accuracy(np.array([1, None], dtype=object), np.array([0, 1]))


def test_roc_curve_reads_a_column_of_true_labels():
    scores = np.array([0.1, 0.9, 0.8, 0.3])
    column = metrics.roc_curve(np.array([[0], [1], [1], [0]]), scores)
    flat = metrics.roc_curve(np.array([0, 1, 1, 0]), scores)
    for a, b in zip(column, flat):
        np.testing.assert_array_equal(a, b)
    # both positives score above both negatives: the curve reaches tpr 1 at fpr 0
    fpr, tpr, _ = flat
    assert tpr[fpr == 0].max() == 1.0


def test_roc_curve_rejects_two_dimensional_true_labels():
    with pytest.raises(ValueError, match=r"roc_curve: y_true must have shape \(N,\), got \(2, 2\)"):
        metrics.roc_curve(np.array([[0, 1], [1, 0]]), np.array([0.1, 0.9]))


# ===================================================================== preprocessing

def test_preprocessing_step_base_class_is_abstract():
    class Incomplete(preprocessing._Step):
        pass

    with pytest.raises(NotImplementedError):
        Incomplete().fit(np.ones((2, 2)))
    with pytest.raises(NotImplementedError):
        Incomplete().transform(np.ones((2, 2)))


def test_fitting_on_no_samples_is_an_error():
    with pytest.raises(ValueError, match="VarianceThreshold: X has no samples"):
        preprocessing.VarianceThreshold().fit(np.zeros((0, 3)))


def test_variance_threshold_must_be_non_negative():
    with pytest.raises(ValueError, match="threshold must be >= 0, got -1"):
        preprocessing.VarianceThreshold(-1)


def test_pca_inverse_transform_checks_the_number_of_components():
    pca = preprocessing.PCA(2).fit(np.random.default_rng(0).normal(size=(10, 4)))
    with pytest.raises(ValueError, match=r"inverse_transform needs shape \(N, 2\), got \(3, 3\)"):
        pca.inverse_transform(np.zeros((3, 3)))


def test_stability_selection_needs_two_samples():
    with pytest.raises(ValueError, match="needs at least 2 samples, got 1"):
        preprocessing.StabilitySelection().fit(np.ones((1, 3)), np.ones(1))


# ===================================================================== ensembles

def two_linears(seed=0):
    tg.manual_seed(seed)
    return [nn.Linear(2, 3), nn.Linear(2, 3)]


def test_ensemble_argument_checks():
    with pytest.raises(ValueError, match="needs at least one model"):
        E.Ensemble([])
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        E.Ensemble(two_linears()).predict_proba(tg.ones(1, 2), temperature=0)
    with pytest.raises(ValueError, match="train_seeds: needs at least one seed"):
        E.train_seeds(lambda: nn.Linear(2, 3), None, None, [], [])


def test_ensemble_repr_shows_unequal_weights_only():
    assert "combine='proba'\n" in repr(E.Ensemble(two_linears()))
    assert "weights" not in repr(E.Ensemble(two_linears()))
    assert "combine='vote', weights=[0.25, 0.75]" in \
        repr(E.Ensemble(two_linears(), weights=[1, 3], combine="vote"))


def test_from_search_checks_k_and_needs_weights_in_the_extras():
    found = SearchResult([Trial(0, {}, value=1.0)], {"a": 1})
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        E.from_search(found, k=0)
    with pytest.raises(ValueError, match="no successful trial has a 'model' or 'state_dict'"):
        E.from_search(found, k=2)


POSITIVE_INTEGER_CHECKS = {
    "from_search k": (lambda bad: E.from_search(SearchResult([], {"a": 1}), k=bad), "k"),
    "SnapshotCollector every": (lambda bad: E.SnapshotCollector(nn.Linear(2, 3), every=bad),
                                "every"),
    "cyclic_cosine": (lambda bad: E.cyclic_cosine(bad), "epochs_per_cycle"),
    "distill epochs": (lambda bad: E.distill(nn.Linear(2, 3), nn.Linear(2, 3), [], epochs=bad),
                       "epochs"),
    "coarse_to_fine stage": (lambda bad: tune.coarse_to_fine(lambda p: 0.0, {"a": 1},
                                                             stages=[{"n_trials": bad}]),
                             "n_trials"),
    "coarse_to_fine top_k": (lambda bad: tune.coarse_to_fine(lambda p: 0.0, {"a": 1},
                                                             n_trials=3, top_k=bad), "top_k"),
    "bayes_search batch_size": (lambda bad: tune.bayes_search(lambda p: 0.0, {"a": 1},
                                                              n_trials=3, batch_size=bad),
                                "batch_size"),
}


@pytest.mark.parametrize("check, bad", [
    (check, bad) for check in sorted(POSITIVE_INTEGER_CHECKS) for bad in (None, math.inf, "x")
    if not (check == "SnapshotCollector every" and bad is None)])   # None there: not given
def test_positive_integer_arguments_name_themselves_when_not_numbers(check, bad):
    call, name = POSITIVE_INTEGER_CHECKS[check]
    with pytest.raises((TypeError, ValueError), match=f"{name} must be a positive integer"):
        call(bad)


def test_snapshot_collector_and_cyclic_cosine_argument_checks():
    model = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="give exactly one of epochs, every, last"):
        E.SnapshotCollector(model)
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        E.SnapshotCollector(model, every=0)
    with pytest.raises(ValueError, match="last must be a positive integer, got 1.5"):
        E.SnapshotCollector(model, last=1.5)
    with pytest.raises(ValueError, match="no snapshots"):
        E.snapshot_ensemble(model, [])
    with pytest.raises(ValueError, match="epochs_per_cycle must be a positive integer, got 0"):
        E.cyclic_cosine(0)


def test_distillation_loss_argument_checks():
    student, teacher = tg.ones(2, 3), tg.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        E.distillation_loss(student, teacher, temperature=0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        E.distillation_loss(student, teacher, alpha=1.5)
    with pytest.raises(ValueError, match=r"student logits \(2, 3\) and teacher probabilities "
                                         r"\(2, 4\) differ in shape"):
        E.distillation_loss(student, tg.ones(2, 4))
    with pytest.raises(ValueError, match="alpha < 1 needs the labels"):
        E.distillation_loss(student, teacher, alpha=0.5)
    with pytest.raises(ValueError, match="distill: epochs must be a positive integer, got 0"):
        E.distill(nn.Linear(2, 3), nn.Linear(2, 3), [], epochs=0)


def test_distill_defaults_to_adam_and_prints_one_line_per_epoch(capsys):
    rng = np.random.default_rng(0)
    batches = [(tg.tensor(rng.normal(size=(4, 2)).astype(np.float32)),
                tg.tensor(rng.integers(0, 3, size=4))) for _ in range(2)]
    tg.manual_seed(1)
    teacher = nn.Linear(2, 3)
    tg.manual_seed(2)
    student = nn.Linear(2, 3)
    reference = copy.deepcopy(student)

    history = E.distill(teacher, student, batches, temperature=2.0, alpha=0.5, epochs=2,
                        progress=True)

    # the same two epochs by hand, with optim.Adam(lr=1e-3) (the documented default)
    adam = optim.Adam(reference.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        total = 0.0
        for x, y in batches:
            with tg.no_grad():
                soft = F.softmax(teacher(x) / 2.0, dim=1)
            adam.zero_grad()
            loss = E.distillation_loss(reference(x), soft, y, 2.0, 0.5)
            loss.backward()
            adam.step()
            total += loss.item() * len(y)
        losses.append(total / 8)
    np.testing.assert_allclose(history["train_loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(student.weight.numpy(), reference.weight.numpy(), rtol=1e-6)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"distill epoch {i + 1}/2  train_loss {losses[i]:.4f}" for i in range(2)]


# ===================================================================== tune: spaces

def test_distribution_base_class_is_abstract():
    base = space.Distribution()
    for call in (lambda: base.to_unit(0.5), lambda: base.from_unit(0.5),
                 lambda: base.narrow(0.0, 1.0)):
        with pytest.raises(NotImplementedError):
            call()


def test_randint_and_choice_equality_and_repr():
    assert tune.randint(1, 4) == tune.randint(1, 4)
    assert tune.randint(1, 4) != tune.randint(1, 5)
    assert tune.randint(1, 4) != tune.uniform(1, 4)
    assert tune.choice([1, 2]) == tune.choice([1, 2])
    assert tune.choice([1, 2]) != tune.choice([2, 1])
    assert repr(tune.choice(["a", 2])) == "choice(['a', 2])"


def test_choice_errors():
    with pytest.raises(ValueError, match="needs at least one option"):
        tune.choice([])
    with pytest.raises(ValueError, match=r"3 is not one of the options \[1, 2\]"):
        tune.choice([1, 2]).index(3)
    with pytest.raises(TypeError, match="narrow it with keep_options"):
        tune.choice([1, 2]).narrow(0.0, 1.0)


def test_space_names_must_be_strings():
    with pytest.raises(TypeError, match="search-space names must be strings, got 1"):
        tune.random_search(lambda p: 0.0, {1: tune.uniform(0, 1)}, n_trials=1)


# ===================================================================== tune: trials

def test_objective_must_return_a_value():
    keyless = trials.run_trial(lambda p: {"loss": 1.0}, 0, {"a": 1})
    assert not keyless.ok
    assert keyless.error == "TypeError: the objective returned a dict without a 'value' key " \
                            "(keys: loss)"
    text = trials.run_trial(lambda p: "abc", 1, {"a": 1})
    assert not text.ok and "must return a number or a dict with a 'value', got str" in text.error


def test_search_progress_callable_and_printed_lines(capsys):
    seen = []
    found = tune.grid_search(lambda p: p["h"] * 1.0, {"h": tune.choice([3, 5])}, n_trials=2,
                             progress=seen.append)
    assert [t.number for t in seen] == [0, 1] and seen == found.trials

    trials._report(True, Trial(0, {"lr": 0.123456, "h": 3}, value=1.0, budget=2,
                               duration=0.5), 3)
    trials._report(True, Trial(1, {"lr": 0.1}, status="failed", error="E: x"), None)
    assert capsys.readouterr().out.splitlines() == [
        "trial 1/3  budget 2  value 1  [0.5 s]  lr=0.1235, h=3",
        "trial 2  FAILED E: x  [0.0 s]  lr=0.1"]


def test_a_generator_as_seed_is_used_as_it_is():
    the_space = {"a": tune.uniform(0, 1)}
    generator = np.random.default_rng(5)
    found = tune.random_search(lambda p: p["a"], the_space, n_trials=3, seed=generator)
    expected = np.random.default_rng(5).uniform(size=3)
    np.testing.assert_allclose([t.params["a"] for t in found.trials], expected)
    # the search drew from that very generator: it has moved on by three draws
    assert generator.uniform() == np.random.default_rng(5).uniform(size=4)[3]


def test_objective_must_be_callable():
    with pytest.raises(TypeError, match="objective must be callable, got int"):
        tune.random_search(5, {"a": tune.uniform(0, 1)}, n_trials=1)


# ===================================================================== tune: search arguments

def test_grid_needs_a_size():
    with pytest.raises(ValueError, match="give n_trials or points_per_axis"):
        tune.grid_points({"a": tune.uniform(0, 1)})


def test_narrow_space_without_top_trials_keeps_the_space():
    original = {"a": tune.uniform(0, 1), "b": 3}
    narrowed = tune.narrow_space(original, [])
    assert narrowed == original and narrowed is not original
    with pytest.raises(ValueError, match=r"shrink must lie in \(0, 1\], got 0"):
        tune.narrow_space(original, [], shrink=0)


def test_coarse_to_fine_argument_checks():
    the_space = {"a": tune.uniform(0, 1)}
    objective = lambda p: p["a"]  # noqa: E731
    with pytest.raises(ValueError, match="give stages=.* or n_trials"):
        tune.coarse_to_fine(objective, the_space)
    with pytest.raises(ValueError, match="stages is empty"):
        tune.coarse_to_fine(objective, the_space, stages=[])
    with pytest.raises(ValueError, match="stage 0 n_trials must be a positive integer, got 0"):
        tune.coarse_to_fine(objective, the_space, stages=[{"n_trials": 0}])
    with pytest.raises(ValueError, match="method must be 'random' or 'bayes', got 'grid'"):
        tune.coarse_to_fine(objective, the_space, n_trials=3, method="grid")
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        tune.coarse_to_fine(objective, the_space, n_trials=3, top_k=0)


def test_bayes_search_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        tune.bayes_search(lambda p: 0.0, {"a": tune.uniform(0, 1)}, n_trials=3, batch_size=0)


def test_bayes_search_keeps_sampling_at_random_while_every_trial_fails():
    def failing(params):
        raise ValueError("always")

    found = tune.bayes_search(failing, {"a": tune.uniform(0, 1)}, n_trials=5, seed=0,
                              n_initial=2)
    assert len(found.trials) == 5 and not any(t.ok for t in found.trials)
    assert all(t.error == "ValueError: always" for t in found.trials)
    # no GP without a single value: the proposals are the seed's next uniform draws
    np.testing.assert_allclose([t.params["a"] for t in found.trials],
                               np.random.default_rng(0).uniform(size=5))


# ===================================================================== tune: Gaussian process

def test_gaussian_process_repr_and_fit_shape_check():
    assert repr(tune.GaussianProcess()) == "GaussianProcess(unfitted)"
    gp = tune.GaussianProcess(length_scales=0.5, signal_variance=2.0, noise_variance=0.01)
    gp.fit(np.array([[0.1], [0.5], [0.9]]), np.array([1.0, 0.0, 1.0]))
    assert repr(gp) == "GaussianProcess(n=3, length_scales=[0.5], signal_variance=2, " \
                       "noise_variance=0.01)"
    with pytest.raises(ValueError, match=r"X must be \(n, d\) and y \(n,\), got \(3,\) and \(3,\)"):
        tune.GaussianProcess().fit(np.zeros(3), np.zeros(3))


def test_log_marginal_likelihood_is_minus_inf_when_k_is_not_positive_definite():
    gp = tune.GaussianProcess(seed=0).fit(np.full((3, 1), 0.5), np.array([1.0, 0.0, 2.0]))
    # three equal points, a signal variance of e^700 and noise e^-50: K = s·11ᵀ + tiny·I,
    # whose Cholesky factorisation fails in floating point
    assert gp.log_marginal_likelihood(np.array([0.0, 700.0, -50.0])) == -math.inf
    assert math.isfinite(gp.log_marginal_likelihood())


# ===================================================================== tune: results

def test_trial_repr_for_ok_and_failed_trials():
    assert repr(Trial(3, {"lr": 0.1}, value=0.25)) == "Trial(#3, value=0.25, params={'lr': 0.1})"
    assert repr(Trial(4, {"lr": 0.2}, status="failed", error="ValueError: boom")) == \
        "Trial(#4, failed: ValueError: boom, params={'lr': 0.2})"


def test_trial_to_dict_converts_numpy_scalars_and_0d_tensors():
    record = Trial(0, {"lr": np.float32(0.5)}, value=1.0,
                   extras={"loss": tg.tensor(2.5), "steps": np.int64(7)}).to_dict()
    assert record["params"] == {"lr": 0.5} and type(record["params"]["lr"]) is float
    assert record["extras"] == {"loss": 2.5, "steps": 7}
    json.dumps(record)                                   # JSON can write every entry


def test_search_result_mode_is_checked():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'best'"):
        SearchResult([], {"a": 1}, mode="best")


def test_search_result_best_summary_str_and_repr():
    found = SearchResult([Trial(3, {"lr": 0.1}, value=0.25), Trial(4, {"lr": 0.2}, value=0.5),
                          Trial(5, {"lr": 0.3}, status="failed", error="E: x")],
                         {"lr": tune.uniform(0, 1)})
    assert found.best_params == {"lr": 0.1} and found.best_value == 0.25
    top = found.summary(top=1)
    rows = [line.split() for line in top.splitlines()[2:4]]
    assert rows[0][:3] == ["1", "3", "0.25"] and rows[1][0] == "best:"   # one row only
    assert str(found) == found.summary()
    assert repr(found) == "SearchResult(method='random', mode='min', trials=3, failed=1, " \
                          "best=0.25)"
    none_ok = SearchResult([Trial(5, {"lr": 0.3}, status="failed", error="E: x")],
                           {"lr": tune.uniform(0, 1)})
    assert repr(none_ok) == "SearchResult(method='random', mode='min', trials=1, failed=1)"


def test_save_describes_an_extra_that_tg_save_cannot_write(tmp_path):
    found = SearchResult([Trial(0, {"lr": 0.1}, value=0.25, extras={"fn": (lambda: 1)})],
                         {"lr": tune.uniform(0, 1)})
    written = found.save(tmp_path)
    assert sorted(os.path.basename(path) for path in written) == \
        ["01_0.25_trial000.json", "search.json"]
    assert sorted(os.listdir(tmp_path)) == ["01_0.25_trial000.json", "search.json"]
    record = json.loads((tmp_path / "01_0.25_trial000.json").read_text())
    assert record["extras"] == {"fn": "<not saved: function>"}


@pytest.mark.parametrize("manifest", ["{not json", "[1, 2]", '{"files": "x.json"}'])
def test_a_broken_manifest_lists_no_earlier_files(tmp_path, manifest):
    (tmp_path / "x.json").write_text("{}")
    (tmp_path / "search.json").write_text(manifest)
    assert result.earlier_trial_files(tmp_path) == []


# ===================================================================== experiments: plots

def test_plot_vanishing_writes_every_figure(figures, tmp_path):
    results = {
        kind: {"layer_names": ["0.weight", "2.weight", "4.weight"],
               "grad_init": np.array([1e-4, 1e-2, 1.0]) * scale,
               "grad_trained": np.array([1e-3, 1e-2, 0.5]) * scale,
               "grad_steps": np.array([[1e-4, 1e-2, 1.0], [2e-4, 2e-2, 0.8]]) * scale,
               "train_loss": [2.3, 1.9 * scale]}
        for kind, scale in (("sigmoid", 1.0), ("relu+residual", 2.0))}
    directory = tmp_path / "plots"
    paths = experiments.plot_vanishing(results, str(directory))
    names = [os.path.basename(path) for path in paths]
    assert names == ["vanishing_init.png", "vanishing_trained.png", "vanishing_curves.png",
                     "vanishing_steps_sigmoid.png", "vanishing_steps_relu_residual.png"]
    for path in paths:
        assert os.path.dirname(path) == str(directory)
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(figures) == 5
    # the bars at initialisation: one group per kind, layers L1..L3
    bars = [patch.get_height() for patch in figures[0].axes[0].patches]
    np.testing.assert_allclose(bars, np.concatenate([results["sigmoid"]["grad_init"],
                                                     results["relu+residual"]["grad_init"]]))
    labels = [tick.get_text() for tick in figures[0].axes[0].get_xticklabels()]
    assert labels == ["L1", "L2", "L3"]
    # one line per layer over the training steps
    lines = figures[4].axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["L1", "L2", "L3"]
    for column, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(),
                                   results["relu+residual"]["grad_steps"][:, column])
