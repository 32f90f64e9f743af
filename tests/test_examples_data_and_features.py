"""The data-side experiments run end to end (``--quick``) and show what docs/experiments.md
reports, with margins: bagging and augmentation, feature engineering, and the ROC /
threshold / class-weight part of focal_loss.py.

Each example's quick run is made once per session (tests/examples_runner.py) and shared
with tests/test_examples.py, which compares it with its snapshot. The assertions are
what the quick runs show (seed 0), with margins.
"""

from examples_runner import numeric_table as table, output_of, rows_of


def test_bagging_and_augmentation():
    output = output_of("bagging_and_augmentation")
    rows = table(output, "Ensembles")
    assert list(rows) == ["full set", "bootstrap (bagging)", "full set + augment",
                          "bootstrap + augment"]
    members, distinct, member_train, member_test, member_nll, train, test, nll, gap = \
        zip(*rows.values())
    assert set(members) == {3}
    # a bootstrap sample holds about 1 - 1/e = 63% of the 200 digits; the full set all 200
    assert distinct[0] == distinct[2] == 200 and 110 < distinct[1] < 140
    # bagging: the average of bootstrap members beats its members alone (quick: +3.7 points)
    assert test[1] > member_test[1] + 1.0
    assert nll[1] < member_nll[1]
    # augmentation makes the training set harder to fit (quick: 82% vs 93% for one member)
    assert member_train[2] < member_train[0] - 3
    growth = table(output, "Test accuracy % of the ensemble of the first k members")
    assert all(len(cells) == 3 for cells in growth.values())          # k = 1, 2, 3
    assert growth["bootstrap (bagging)"][2] == test[1]                # k = all members


def test_feature_engineering():
    output = output_of("feature_engineering")
    rows = table(output)
    features = {name: cells[0] for name, cells in rows.items()}
    test = {name: cells[2] for name, cells in rows.items()}
    assert features["clean digits (no corruption)"] == 64
    assert features["median + indicators"] == 128
    pca = next(name for name in rows if "PCA" in name)
    selected = next(name for name in rows if "stability selection" in name)
    assert features[pca] < 61 and features[selected] < 100
    assert test["clean digits (no corruption)"] > 90
    # the corruption costs accuracy, and clipping the outliers wins most of it back
    # (quick: 81% with median imputation, 91% after clipping, 95.5% on clean digits)
    assert test["median imputation"] < test["clean digits (no corruption)"] - 5
    assert test["clip + median"] > test["median imputation"] + 5
    # uninformative "was missing" columns hurt the linear model (quick: 70% vs 81%)
    assert test["median + indicators"] < test["median imputation"]
    selection = table(output, "Stability selection")
    pixels, indicators = selection["pixels"], selection["missing indicators"]
    # stability selection keeps most pixels and drops almost every indicator
    assert indicators[1] <= 5 and pixels[1] > pixels[0] / 2
    assert indicators[2] < pixels[2]                                 # mean frequency


def test_focal_loss_roc_thresholds_and_class_weights():
    output = output_of("focal_loss")
    methods = table(output)
    # balanced class weights N / (2 n_c) are pos_weight = n_0 / n_1 = 50 times a constant;
    # Adam does not see a constant factor, so the two rows agree
    for weighted, positive in zip(methods["BCE class weights"], methods["BCE pos_weight=50"]):
        assert abs(weighted - positive) < 0.01
    thresholds = {(cells[0], cells[1]): cells[2:] for cells in
                  rows_of(output, "Decision thresholds chosen on the training set")}
    for model in ("BCE", "BCE class weights", "focal gamma=2"):
        default = thresholds[(model, "p = 0.5 (default)")]
        assert float(default[0]) == 0.5
        f1_rule = [float(cell) for cell in thresholds[(model, "max F1 on train")]]
        gmean_rule = [float(cell) for cell in thresholds[(model, "max G-mean on train")]]
        # the tuned thresholds carry over to the held-out set (quick: F1 0.25 -> 0.38 for BCE)
        assert f1_rule[3] > float(default[3]) - 0.02, model
        assert gmean_rule[4] > f1_rule[4], model
    assert float(thresholds[("BCE", "max F1 on train")][3]) > \
        float(thresholds[("BCE", "p = 0.5 (default)")][3]) + 0.05
    roc = table(output, "Held-out ROC curves")
    for model, cells in roc.items():
        assert abs(cells[0] - methods[model][-1]) < 1e-3        # area of the curve = rank AUC
        assert cells[2] <= cells[3] <= cells[4] <= cells[5]      # TPR grows with the FPR allowed
