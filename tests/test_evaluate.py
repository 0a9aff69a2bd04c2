"""Downstream evaluation: metrics with known answers, splits, statistics, importance and bad input."""
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dallm.cohort import LABEL_COLS
from dallm.config import InputError
from dallm.stats import bootstrap_ci, bootstrap_diff, corrected_ttest, delong_test, holm, micro_metric
from dallm.models import MultiLabelModel, noisy_copies
from dallm.evaluate import (TRAIN_AUGMENT, check_features, clean_splits, example_ratings, keyword_features,
                            lesion_importance, load_augmented, multilabel_metrics, n_relevant, original_features, paper_metrics, paper_rows, paper_splits,
                            read_ratings, run_grid, score, table4, reference_cv, contrast_table, summary_text)


@pytest.fixture(scope="module")
def df(synth799):
    return synth799.tidy


def test_metrics_known_answers():
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, (500, 5))
    perfect = multilabel_metrics(Y, Y.astype(float))
    assert perfect["auroc"] == perfect["f1"] == perfect["accuracy"] == perfect["auprc"] == perfect["auroc_macro"] == 1
    rand = multilabel_metrics(Y, rng.random(Y.shape))
    assert abs(rand["auroc"] - 0.5) < 0.04 and abs(rand["auroc_macro"] - 0.5) < 0.06
    inverted = multilabel_metrics(Y, 1 - Y.astype(float))
    assert inverted["auroc"] == 0 and inverted["f1"] == 0
    assert paper_metrics(Y, np.full(Y.shape, 0.9))["auroc"] == 0.5  # hard labels, all positive: AUROC 0.5
    P = rng.random(Y.shape)
    assert micro_metric(Y, P) == pytest.approx(roc_auc_score(Y.ravel(), P.ravel()))


def test_grouped_splits_never_share_a_patient(df):
    Y, g = df[LABEL_COLS].to_numpy(), df["subject_id"].to_numpy()
    splits = clean_splits(Y, g, folds=5, repeats=2, seed=3)
    assert len(splits) == 10
    for r in range(2):
        tests = np.concatenate([te for rr, _, _, te in splits if rr == r])
        assert sorted(tests) == list(range(len(df)))  # every reading tested exactly once per repeat
    for _, _, tr, te in splits:
        assert not set(g[tr]) & set(g[te])
    # the authors' split, by contrast, puts readings of one image on both sides
    _, _, tr, te = paper_splits(df, 1, 0)[0]
    assert set(df["dicom_id"].to_numpy()[tr]) & set(df["dicom_id"].to_numpy()[te])
    rows = paper_rows(df)
    assert (df["chexpert_no_finding"].to_numpy()[rows] == 1).sum() == min(100, (df["chexpert_no_finding"] == 1).sum())


def test_dummy_ranks_low_when_an_informative_feature_exists(df):
    rng = np.random.default_rng(1)
    Y = df[LABEL_COLS].to_numpy(int)
    X = original_features(df, seed=0).assign(signal=Y[:, 0] + rng.normal(0, 0.5, len(df)))
    n = len(df); tr, te = np.arange(n) < 600, np.arange(n) >= 600
    m = MultiLabelModel("random_forest", seed=0).fit(X.to_numpy(), Y[:, [0]])
    imp = m.feature_importances_
    cols = list(X.columns)
    assert imp[cols.index("signal")] > 3 * imp[cols.index("dummy")]
    assert n_relevant(imp, cols) >= 1
    li = lesion_importance(X, Y, np.flatnonzero(tr), np.flatnonzero(te), "xgboost", seed=0)
    e = li[(li.lesion == "enlarged_cardiac_silhouette") & (li.kind == "shap")].set_index("feature")["importance"]
    assert e.idxmax() == "signal" and e["signal"] > e["dummy"]


def test_single_class_fold_is_handled_and_reported(df):
    X = original_features(df).to_numpy()
    Y = df[LABEL_COLS].to_numpy(int).copy()
    Y[:, 2] = 0
    for name in ("decision_tree", "xgboost"):
        m = MultiLabelModel(name).fit(X, Y)
        P = m.predict_proba(X)
        assert P.shape == (len(df), 5) and (P[:, 2] == 0).all()
        assert any("pleural_abnormality: single class" in e for e in m.events_)


def test_tabnet_multitask_fits(df):
    X = original_features(df).to_numpy()
    Y = df[LABEL_COLS].to_numpy(int)
    m = MultiLabelModel("tabnet", tabnet_max_epochs=3).fit(X[:600], Y[:600], df["subject_id"].to_numpy()[:600])
    P = m.predict_proba(X[600:])
    assert P.shape == (len(df) - 600, 5) and np.isfinite(P).all() and m.feature_importances_.sum() == pytest.approx(1)


def test_statistics_known_answers():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 3000)
    good, poor = y + rng.normal(0, 0.8, 3000), y + rng.normal(0, 2.5, 3000)
    a1, a2, p = delong_test(y, good, poor)
    assert a1 == pytest.approx(roc_auc_score(y, good)) and a2 == pytest.approx(roc_auc_score(y, poor)) and p < 1e-6
    assert delong_test(y, good, good)[2] == 1.0
    # two equally good but independent predictors: no significant difference most of the time
    ps = [delong_test(y, y + rng.normal(0, 1, 3000), y + rng.normal(0, 1, 3000))[2] for _ in range(40)]
    assert np.mean(np.array(ps) < 0.05) < 0.2
    # the corrected t-test without its correction is scipy's one-sample t-test; with it, a wider test
    from scipy import stats
    d = np.array([0.02, 0.03, 0.01, 0.025, 0.015])
    assert corrected_ttest(d, 1e15, 1) == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert corrected_ttest(d, 80, 20) > stats.ttest_1samp(d, 0).pvalue


def test_intervals_cover_the_true_auroc_at_their_level():
    """Coverage, not a range check: on 80 simulated samples whose true per-lesion AUROC is known (binormal, shift 1:
    Phi(1/sqrt(2)) = 0.760), the 95% patient-bootstrap interval of the within-fold macro AUROC covers it 85-100% of the
    time, and the P-value of two equally good predictors falls below 0.05 in at most 15% of samples."""
    from scipy import stats
    from dallm.stats import fold_bootstrap
    rng, true = np.random.default_rng(5), stats.norm.cdf(1 / np.sqrt(2))
    cover, reject = [], []
    for _ in range(80):
        g = np.repeat(np.arange(100), 2)
        Y = rng.integers(0, 2, (200, 5))
        P1, P2 = Y + rng.normal(0, 1, Y.shape), Y + rng.normal(0, 1, Y.shape)
        b = fold_bootstrap(Y, P1, None, g % 5, g, n_boot=100, seed=int(rng.integers(1e6)))
        cover.append(b["lo"] <= true <= b["hi"])
        reject.append(fold_bootstrap(Y, P1, P2, g % 5, g, n_boot=100)["p"] < 0.05)
    assert 0.85 <= np.mean(cover) <= 1.0 and np.mean(reject) <= 0.15, (np.mean(cover), np.mean(reject))


def test_bad_input_errors(df, tmp_path):
    X0 = original_features(df)
    with pytest.raises(InputError, match="do not match the cohort"):
        check_features(X0.iloc[5:], df, "aug.parquet")
    with pytest.raises(InputError, match=r"non-numeric column\(s\) \['cough'\]"):
        check_features(X0.assign(cough="yes"), df, "aug.parquet")
    with pytest.raises(InputError, match=r"\['fvc'\] have no value"):
        check_features(X0.assign(fvc=np.nan), df, "aug.parquet")
    with pytest.raises(InputError, match="label_atelectasis"):
        run_grid({"original": X0}, df.drop(columns=["label_atelectasis"]), ["decision_tree"], ["clean"])
    with pytest.raises(InputError, match="unknown model"):
        MultiLabelModel("svm").fit(X0.to_numpy(), df[LABEL_COLS].to_numpy(int))
    bad = tmp_path / "ratings.csv"
    pd.DataFrame({"feature": ["age"], "lesion": ["lungs"], "plausibility": [3], "relevance": [2]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="unknown lesion"):
        read_ratings(bad)
    ok = tmp_path / "ok.csv"
    example_ratings(list(X0.columns)).to_csv(ok, index=False)
    assert len(read_ratings(ok)) == 5 * X0.shape[1]


def test_augmented_tables_are_found_and_joined(df, tmp_path):
    aug = pd.DataFrame({"reading_id": df["reading_id"], "cough": np.random.default_rng(0).integers(0, 2, len(df))})
    (tmp_path / "aug").mkdir()
    aug.to_parquet(tmp_path / "aug" / "augmented.parquet")
    sets = load_augmented(tmp_path / "aug", df)
    assert list(sets) == ["augmented"] and "cough" in sets["augmented"] and "dummy" in sets["augmented"]


def test_grid_scores_and_table4(df):
    fsets = {"original": original_features(df), "keywords": pd.concat([original_features(df), keyword_features(df)], axis=1)}
    res = run_grid(fsets, df, ["decision_tree", "xgboost"], ["clean", "paper"], repeats=1, folds=3)
    sc = score(res, df, n_boot=50)
    clean = sc[sc.protocol == "clean"].set_index(["feature_set", "model"])
    # the report keywords carry the lesions: clearly better than vitals, significantly so
    assert clean.loc[("keywords", "xgboost"), "auroc"] > clean.loc[("original", "xgboost"), "auroc"] + 0.1
    # patient bootstrap of the within-fold difference (normal P, no floor): far below any threshold, interval above 0
    assert clean.loc[("keywords", "xgboost"), "p_auroc"] < 1e-4 and clean.loc[("keywords", "xgboost"), "d_auroc_lo"] > 0
    # per-lesion P-values Holm-adjusted over the five lesions: Holm's step-down written out here (sorted P x (5 - rank),
    # running maximum, capped at 1), not the statsmodels call the code makes
    from dallm.evaluate import LESION_KEYS
    kwx = clean.loc[("keywords", "xgboost")]
    raw = np.array([kwx[f"p_auroc_{l}"] for l in LESION_KEYS])
    order = np.argsort(raw)
    step = np.minimum(1, np.maximum.accumulate(raw[order] * (5 - np.arange(5))))
    np.testing.assert_allclose([kwx[f"p_holm_{l}"] for l in LESION_KEYS], step[np.argsort(order)])
    assert 0.4 < clean.loc[("original", "xgboost"), "auroc"] < 0.75
    t = table4(sc, "clean")
    row = t[(t.feature_set == "original") & (t.model == "XGBoost")].iloc[0]
    assert row["paper_auroc"] == 0.5389 and "auroc_95ci" in t
    assert set(table4(sc, "paper").columns) >= {"accuracy", "auroc", "paper_accuracy"}


def test_training_time_baselines_run_in_the_grid(df):
    X0 = original_features(df)
    res = run_grid({"original": X0, "original_smote": X0, "original_noise": X0}, df, ["decision_tree"], ["clean"], folds=3)
    sc = score(res, df, n_boot=30).set_index("feature_set")
    assert set(sc.index) == {"original", "original_smote", "original_noise"}
    assert sc.loc["original_smote", "auroc"] != sc.loc["original", "auroc"]  # the training rows really changed
    assert sc.loc["original_noise", "auroc"] != sc.loc["original", "auroc"]
    assert set(TRAIN_AUGMENT.values()) == {"smote", "noise", "per_lesion"}
    X, Y, g = noisy_copies(np.ones((4, 2)) * [[1], [2], [3], [4]], np.eye(4, 2), np.arange(4))
    assert X.shape == (8, 2) and (Y[4:] == Y[:4]).all() and (g[4:] == g[:4]).all()
    with pytest.raises(InputError, match="augment 'gan'"):
        MultiLabelModel("xgboost", augment="gan").fit(X, Y)


def test_authors_tabnet_takes_no_gradient_step_below_1024_rows():
    """pytorch-tabnet 4.x: batch 1024 with drop_last=True gives zero steps on a smaller training set."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)); Y = np.column_stack([(X[:, 0] > 0).astype(int)] * 5)  # feature 0 decides every label
    authors = MultiLabelModel("tabnet", "stated", 0, tabnet_max_epochs=20, tabnet_authors=True).fit(X, Y)
    ours = MultiLabelModel("tabnet", "stated", 0, tabnet_max_epochs=20, tabnet_valid=False).fit(X, Y)
    assert authors.steps_ == 0 and ours.steps_ == 20  # 400 rows: one (partial) batch of 1024 per epoch, kept
    auc = lambda m: roc_auc_score(Y[:, 0], m.predict_proba(X)[:, 0])
    assert auc(ours) > 0.9 and auc(authors) < 0.75, (auc(ours), auc(authors))


def test_clustered_bootstrap_and_holm_against_references():
    rng = np.random.default_rng(1)
    # coverage with shared patient effects: 250 patients x 3 readings sharing the label and a patient effect u; the
    # population AUROC is Phi(d / sqrt(2 (s_u^2 + s_e^2))). Resampling patients covers it about 95% of the time; resampling
    # readings as if independent under-covers (the CI is too narrow). An interval that is always too wide fails too.
    from scipy.stats import norm
    d, s_u, s_e, k, n_pat, sims = 1.0, 1.0, 0.5, 3, 250, 150
    truth, hit_pat, hit_read = norm.cdf(d / np.sqrt(2 * (s_u ** 2 + s_e ** 2))), 0, 0
    for r in range(sims):
        yp, u = rng.integers(0, 2, n_pat), rng.normal(0, s_u, n_pat)
        y, g = np.repeat(yp, k), np.repeat(np.arange(n_pat), k)
        p = d * y + np.repeat(u, k) + rng.normal(0, s_e, n_pat * k)
        lo, hi = bootstrap_ci(y, p, g, n_boot=150, seed=r); hit_pat += lo <= truth <= hi
        lo, hi = bootstrap_ci(y, p, np.arange(len(y)), n_boot=150, seed=r); hit_read += lo <= truth <= hi
    assert 0.88 <= hit_pat / sims <= 0.99, hit_pat
    assert hit_read / sims <= min(0.9, hit_pat / sims - 0.08), (hit_read, hit_pat)
    # the difference test agrees with its own interval
    y = rng.integers(0, 2, 400); g = np.arange(400) // 2
    good, bad = y + rng.normal(0, 0.6, 400), y + rng.normal(0, 2.0, 400)
    obs, lo, hi, p = bootstrap_diff(y, good, bad, g, n_boot=400)
    assert obs > 0 and (p < 0.05) == (lo > 0)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_delong_against_its_structural_components():
    """DeLong (1988): the variance from the placement values V10 (positives) and V01 (negatives), computed pairwise here."""
    from scipy.stats import norm
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60).astype(bool); p1 = y + rng.normal(0, 1, 60); p2 = y + rng.normal(0, 1.5, 60)
    psi = lambda a, b: (a > b) + 0.5 * (a == b)
    V10 = np.array([[np.mean([psi(x, z) for z in p[~y]]) for x in p[y]] for p in (p1, p2)])
    V01 = np.array([[np.mean([psi(x, z) for x in p[y]]) for z in p[~y]] for p in (p1, p2)])
    S = np.cov(V10) / y.sum() + np.cov(V01) / (~y).sum()
    a1, a2 = V10.mean(1)
    z = (a1 - a2) / np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1])
    got = delong_test(y, p1, p2)
    np.testing.assert_allclose(got, (a1, a2, 2 * norm.sf(abs(z))), rtol=1e-10)


def test_delong_against_a_published_worked_example():
    """Hanley & McNeil (1982), Table 1: 109 CT images on a five-point scale; published area 0.893, standard error 0.032
    (their approximation). The area must agree exactly, DeLong's standard error to within 0.002."""
    from dallm.stats import delong_cov
    y = np.r_[np.zeros(58), np.ones(51)]
    rating = np.r_[np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2]), np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])]
    (auc,), S = delong_cov(y, rating)
    assert round(auc, 3) == 0.893 and auc == pytest.approx(roc_auc_score(y, rating))
    assert abs(np.sqrt(S[0, 0]) - 0.032) < 0.002
    # the same readings twice: a covariance matrix of equal entries, and the paired test says no difference
    _, S2 = delong_cov(y, rating, rating)
    np.testing.assert_allclose(S2, S[0, 0])
    assert delong_test(y, rating, rating)[2] == 1.0


def test_delong_against_pROC_on_its_aSAH_example():
    """pROC's aSAH example (113 patients, tests/fixtures/pROC/README.md says where it comes from): its published
    variance of the s100b AUROC (0.002668682), the covariance with wfns, and roc.test's DeLong Z = -2.209, P = 0.0272.
    A covariance with the two class sizes swapped (the bug this catches) gives 0.002197 instead."""
    from scipy.stats import norm
    from dallm.stats import delong_cov
    d = pd.read_csv(Path(__file__).parent / "fixtures" / "pROC" / "aSAH.csv")
    y = d["poor_outcome"].to_numpy()
    aucs, S = delong_cov(y, d["s100b"], d["wfns"])
    np.testing.assert_allclose(aucs, [0.7313685637, 0.8236788618], rtol=1e-9)
    np.testing.assert_allclose([S[0, 0], S[1, 1], S[0, 1]], [0.002668682457, 0.001469914709, 0.001196155674], rtol=1e-8)
    z = (aucs[0] - aucs[1]) / np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1])
    assert z == pytest.approx(-2.208983591, rel=1e-8)
    a1, a2, p = delong_test(y, d["s100b"], d["wfns"])
    assert (a1, a2) == (aucs[0], aucs[1]) and p == pytest.approx(0.02717578223, rel=1e-7)
    assert p == pytest.approx(2 * norm.sf(abs(z)))
    # the swapped sizes: each placement variance divided by the other class's count
    pos, neg = d["s100b"][y == 1].to_numpy(), d["s100b"][y == 0].to_numpy()
    v10 = np.array([np.mean((x > neg) + 0.5 * (x == neg)) for x in pos])
    v01 = np.array([np.mean((pos > z_) + 0.5 * (pos == z_)) for z_ in neg])
    swapped = v10.var(ddof=1) / len(neg) + v01.var(ddof=1) / len(pos)
    assert round(swapped, 6) == 0.002197 and abs(S[0, 0] - swapped) > 4e-4


def test_figure5_high_and_low_relevance_panels_from_a_ratings_file(tmp_path):
    "Real ratings give the paper's panels: correlations computed separately within the high- and low-relevance features."
    from dallm.evaluate import plot_relevance_panels, ratings_correlation, relevance_groups
    feats = [f"f{i}" for i in range(8)]
    rel = [5, 5, 4, 4, 2, 2, 1, 1]; pla = [5, 4, 5, 3, 2, 2, 1, 1]
    pd.DataFrame({"feature": feats, "lesion": "atelectasis", "plausibility": pla, "relevance": rel}).to_csv(tmp_path / "r.csv", index=False)
    rt = read_ratings(tmp_path / "r.csv")
    assert relevance_groups(rt).tolist() == ["high"] * 4 + ["low"] * 4  # median 3
    imp = pd.DataFrame({"model": "random_forest", "lesion": "atelectasis", "kind": "builtin", "feature": feats,
                        "importance": [0.4, 0.3, 0.2, 0.1, 0.01, 0.02, 0.03, 0.04]})
    c = ratings_correlation(imp, rt, by_relevance=0).set_index(["relevance_group", "rating"])["pearson_r"]
    assert c[("high", "plausibility")] > 0.5 and c[("low", "plausibility")] < 0  # opposite signs: the panels differ
    assert set(ratings_correlation(imp, rt)["relevance_group"]) == {"all"}
    fig = plot_relevance_panels(ratings_correlation(imp, rt, by_relevance=4), "test", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000 and fig.axes


def test_paper_metrics_are_the_authors_hard_label_metrics_and_their_p_value():
    "As in the authors' public fi-with-pvalue notebooks: micro metrics of hard predictions; P = t-test of labels vs predictions."
    from scipy.stats import ttest_ind
    from sklearn.metrics import f1_score as f1
    rng = np.random.default_rng(5)
    Y = rng.integers(0, 2, (200, 5)); P = np.clip(Y * 0.7 + rng.random(Y.shape) * 0.5, 0, 1)
    m = paper_metrics(Y, P); H = (P >= 0.5).astype(int)
    assert m["f1"] == pytest.approx(f1(Y.ravel(), H.ravel()))
    assert m["p_value"] == pytest.approx(ttest_ind(Y.ravel(), H.ravel()).pvalue)
    assert paper_metrics(Y, Y.astype(float))["p_value"] == 1.0


def test_smote_and_noise_touch_training_rows_only(df):
    """The oversampled rows come from the training fold only: each per-lesion tree was grown on exactly the training
    rows plus SMOTE's synthetic minority rows, and the test fold is predicted as it is, once."""
    X0, Y, g = original_features(df).to_numpy(float), df[LABEL_COLS].to_numpy(int), df["subject_id"].to_numpy()
    (_, _, tr, te), = clean_splits(Y, g, 3, 1, 0)[:1]
    for aug, grown in (("smote", lambda y: len(tr) + abs(len(y) - 2 * y.sum())), ("per_lesion", lambda y: len(tr))):
        m = MultiLabelModel("decision_tree", "stated", 0, augment=aug).fit(X0[tr], Y[tr], g[tr])
        assert [t.tree_.n_node_samples[0] for t in m.model_.models] == [grown(Y[tr, j]) for j in range(5)]
        assert m.predict_proba(X0[te]).shape == (len(te), 5)
    noisy = MultiLabelModel("decision_tree", "stated", 0, augment="noise").fit(X0[tr], Y[tr], g[tr])
    assert noisy.model_.tree_.n_node_samples[0] == 2 * len(tr)
    res = run_grid({"original_smote": original_features(df)}, df, ["decision_tree"], ["clean"], repeats=1, folds=3)[0]
    assert sorted(res.preds["pos"]) == list(range(len(df)))   # every reading predicted once, out of fold


def test_reference_predictors_and_declared_contrasts(df):
    X0 = original_features(df)
    res = run_grid({"original": X0, "keywords": pd.concat([X0, keyword_features(df)], axis=1)}, df, ["xgboost"], ["clean"],
                   repeats=1, folds=3)
    cs = clean_splits(df[LABEL_COLS].to_numpy(int), df["subject_id"].to_numpy(), 3, 1, 0)   # run_grid's folds
    refs = [reference_cv(n, df, cs) for n in ("prevalence", "report_tfidf", "report_minilm")]
    sc = score(res + refs, df, n_boot=50).set_index("feature_set")
    # a featureless predictor: macro AUROC at chance, micro above it (five lesions of different prevalence pooled)
    # within each fold a constant predictor ties every reading: macro AUROC exactly 0.5; micro ranks lesions by prevalence
    assert sc.loc["prevalence", "auroc_macro"] == 0.5 and 0.53 < sc.loc["prevalence", "auroc"] < 0.65
    # the report names the lesion most of the time: its text alone is a strong predictor, far above vitals
    assert sc.loc["report_tfidf", "auroc_macro"] > sc.loc["original", "auroc_macro"] + 0.15
    assert sc.loc["report_minilm", "auroc_macro"] > sc.loc["prevalence", "auroc_macro"] + 0.1
    with pytest.raises(InputError, match="references: unknown 'bow'"):
        reference_cv("bow", df, cs)
    ct = contrast_table(res + refs, df, ["keywords vs original", "keywords vs report_tfidf", "original vs prevalence",
                                         "clean_augmented vs original"], n_boot=300).set_index("contrast")
    assert ct["in_family"].sum() == 3 and "not evaluated under the clean protocol: clean_augmented" in ct.loc["clean_augmented vs original", "note"]
    kw = ct.loc["keywords vs original"]
    assert kw["d_macro"] > 0.1 and kw["p_boot_holm"] < 0.05 and kw["p_ttest"] < 0.05
    assert ct.loc["keywords vs report_tfidf", "ref_model"] == "logreg"   # a one-model reference meets every model
    fam = ct[ct["in_family"]]
    assert np.allclose(fam["p_boot_holm"], holm(fam["p_boot"].to_numpy())) and (fam["p_boot_holm"] >= fam["p_boot"]).all()
    text = summary_text(ct.reset_index())
    assert "3 contrasts" in text and "keywords vs original (XGBoost): " in text and "**better**" in text
    assert ct.loc["keywords vs original", "verdict"] == "better"
    # the TF-IDF reader is clearly better on this draw (bootstrap P ~ 0), but 3 folds leave the corrected t-test 2 degrees
    # of freedom: the two tests disagree, so no difference is called
    rt = ct.loc["keywords vs report_tfidf"]
    assert rt["d_macro_hi"] < 0 and rt["p_boot_holm"] < 0.05 and rt["p_ttest_holm"] > 0.05 and rt["verdict"] == "inconclusive"


def test_evaluate_feature_sets_from_plain_tables(df):
    """An importer's call: feature tables indexed by their own ids, labels as a DataFrame, patients as an array. The
    result is what chapter 04 reports: the same scores as the step-by-step functions, and one contrast per set."""
    from dallm.evaluate import evaluate_feature_sets
    ids = "r" + df.index.astype(str)
    labels = df[LABEL_COLS].set_axis(ids)
    X0 = original_features(df).set_axis(ids)
    signal = X0.assign(signal=df[LABEL_COLS[0]].to_numpy() + np.random.default_rng(0).normal(0, .5, len(df)))
    ev = evaluate_feature_sets({"original": X0, "signal": signal}, labels, df["subject_id"].to_numpy(),
                               models=["decision_tree"], folds=3, n_boot=100, n_jobs=1)
    c = ev.contrasts.set_index("contrast").loc["signal vs original"]
    assert c["d_macro"] > 0.02 and c["in_family"], c
    steps = run_grid({"original": X0, "signal": signal}, labels.rename_axis("reading_id").reset_index().assign(subject_id=df["subject_id"].to_numpy()),
                     ["decision_tree"], ["clean"], folds=3, clean_repeats=1, n_jobs=1)
    assert [r.preds.equals(s.preds) for r, s in zip(ev.results, steps)] == [True, True]   # one implementation
    assert set(ev.table4()["feature_set"]) >= {"original", "signal"} and "signal vs original" in ev.summary
    with pytest.raises(InputError, match="missing label column"):
        evaluate_feature_sets({"original": X0}, labels.drop(columns=LABEL_COLS[1]), df["subject_id"])
    with pytest.raises(InputError, match="feature set 'signal': 7 of"):
        evaluate_feature_sets({"signal": signal.iloc[7:]}, labels, df["subject_id"])
    with pytest.raises(InputError, match="groups: 3 values"):
        evaluate_feature_sets({"original": X0}, labels, [1, 2, 3])
