"""False-positive rates of Table 4's contrast tests under the null: the old test against the new one.

Two kinds of null, each repeated `--sims` times:
- `permuted`: the synthetic cohort's frames at 8 (smoke), 50, 200 (clean200) and 799 (paper scale) readings, with the
  lesion labels permuted by patient block (`dallm.augment.block_permutations`), so every feature set and reference is
  uninformative. The feature sets have the shapes 04 evaluates: Original (+ dummy), Original with Gaussian-noise
  training rows, Original + the 22 report keywords, an "augmented" stand-in (Original + 4 boolean columns from the
  keywords with 45% of values missing, as clean-mode tables are) and its "ablation" (the same columns, 75% missing),
  the augmented + keywords set; references: prevalence and TF-IDF of the report. The family is 7 declared contrasts x
  the models (14 with two), as 04 declares them.
- `effect` (not a null: power): the `patients` data with set A's latent measured more precisely (noise SD 1.0 against
  1.5), so A is truly better; the rates are then the share of simulations where A is called better (any model).
- `patients`: simulated data with patient effects (1-4 readings per patient, a latent per patient and lesion drives
  both the labels and the features): two feature sets with the same information drawn independently, so both are
  informative and their expected AUROCs are equal; the training variance is what the tests must carry here.

Tests compared, each Holm-adjusted over the family:
- `old`: the pooled out-of-fold macro AUROC difference with its patient bootstrap (normal P), the test before issue 31;
- `boot`: the within-fold macro AUROC difference with its patient bootstrap (`dallm.stats.fold_bootstrap`);
- `ttest`: the corrected resampled t-test of the per-fold differences;
- `both`: a difference called only when `boot` and `ttest` agree (what `dallm.stats.verdict` does).
The family-wise rate is the share of simulations with any contrast called; the per-contrast rate is over every
(simulation, contrast). The default models are DecisionTree (the noisiest) and RandomForest; XGBoost (75 s a simulation
at 200 readings with the stated 100 rounds per lesion) and TabNet (1000 epochs) are left out for time on 2 cores:
`--models` adds them.

Usage: python bench/bench_null.py [--kind permuted patients] [--sizes 8 50 200 799] [--sims 200]
                                  [--models decision_tree random_forest] [--n_boot 200] [--out FILE]
Prints one JSON line per (kind, size) and writes them all to --out (default bench/results/null.jsonl).
"""
import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CONTRASTS = ["aug vs original", "aug vs ablation", "aug vs original_noise", "aug vs keywords", "aug vs report_tfidf",
             "aug+keywords vs keywords", "original_noise vs original"]


@functools.lru_cache(maxsize=None)
def permuted_frame(n: int, seed: int = 0):
    "The cohort's readings (a seeded sample of n) and the feature sets 04 would evaluate on them."
    from dallm.evaluate import keyword_features, original_features
    from dallm.pipeline import sample_readings
    from dallm.synth import synthesize
    df = sample_readings(synthesize(799, seed=0).tidy, n, seed=seed)
    df = df.assign(reading_id=df["reading_id"].astype(str))
    X0, Xk = original_features(df, seed), keyword_features(df).set_index(df["reading_id"].to_numpy())
    rng = np.random.default_rng(seed)
    picked = Xk[["kw_atelectasis", "kw_collapse", "kw_consolidation", "kw_opacity"]].to_numpy(float)
    aug = picked.copy()
    aug[rng.random(aug.shape) < 0.45] = np.nan
    abl = picked.copy()
    abl[rng.random(abl.shape) < 0.75] = np.nan
    cols = ["f_a", "f_b", "f_c", "f_d"]
    A = X0.join(pd.DataFrame(aug, index=X0.index, columns=cols))
    fsets = {"original": X0, "original_noise": X0, "keywords": X0.join(Xk), "aug": A,
             "ablation": X0.join(pd.DataFrame(abl, index=X0.index, columns=cols)), "aug+keywords": A.join(Xk)}
    return df, fsets, ["prevalence", "report_tfidf"], CONTRASTS


def patient_frame(n: int, seed: int, noise_a: float = 1.5):
    """Simulated readings with patient effects: two feature sets carrying the same information (noise SD 1.5 around the
    latent), drawn independently; `noise_a` < 1.5 gives set A more information (the `effect` kind: power)."""
    from dallm.cohort import LABEL_COLS
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n: sizes.append(int(rng.integers(1, 5)))
    sizes[-1] -= sum(sizes) - n
    g = np.repeat(np.arange(len(sizes)), sizes)
    u = rng.normal(size=(len(sizes), 5))[g]                       # patient x lesion latent, shared by readings
    prev = np.array([0.3, 0.35, 0.25, 0.15, 0.2])
    Y = (rng.random((n, 5)) < 1 / (1 + np.exp(-(np.log(prev / (1 - prev)) + 1.2 * u)))).astype(int)
    ids = [f"s{i}" for i in range(n)]
    df = pd.DataFrame({"reading_id": ids, "subject_id": g, **dict(zip(LABEL_COLS, Y.T)), "report": ""})

    def one_set(sd=1.5):
        sig = u + rng.normal(0, sd, u.shape)                       # the same information, independent noise
        noise = rng.normal(size=(n, 4))
        return pd.DataFrame(np.c_[sig, noise], index=ids, columns=[f"x{i}" for i in range(9)]).rename_axis("reading_id")
    return df, {"A": one_set(noise_a), "B": one_set()}, [], ["A vs B"]


def old_pvalues(results, df, contrasts, n_boot, seed):
    "The test before issue 31: pooled out-of-fold macro AUROC, patient bootstrap, normal P."
    from dallm.cohort import LABEL_COLS
    from dallm.evaluate import _oof, parse_contrasts
    from dallm.stats import bootstrap_diff
    Y, groups, n = df[LABEL_COLS].to_numpy(int), df["subject_id"].to_numpy(), len(df)
    by = {(r.feature_set, r.model): r for r in results}
    out = []
    for a, b in parse_contrasts(contrasts):
        for (fs, m), r in by.items():
            if fs != a: continue
            ref = by.get((b, m)) or next(v for (f2, _), v in by.items() if f2 == b)
            Pa, Pb = _oof(r, n), _oof(ref, n)
            ok = ~(np.isnan(Pa).any(1) | np.isnan(Pb).any(1))
            out.append(bootstrap_diff(Y[ok], Pa[ok], Pb[ok], groups[ok], "auroc_macro", n_boot=n_boot, seed=seed,
                                      p_method="normal")[3])
    return np.array(out)


def one_sim(kind, n, s, models, n_boot, effect_sd=1.0):
    from dallm.augment import block_permutations
    from dallm.cohort import LABEL_COLS
    from dallm.evaluate import clean_splits, contrast_table, reference_cv, run_grid
    from dallm.stats import holm
    if kind == "permuted":
        df, fsets, refs, contrasts = permuted_frame(n)
        fsets = dict(fsets)
        perm = block_permutations(df["subject_id"].to_numpy(), 1, np.random.default_rng(1000 + s))[0]
        df = df.copy()
        df[LABEL_COLS] = df[LABEL_COLS].to_numpy()[perm]
    else: df, fsets, refs, contrasts = patient_frame(n, 1000 + s, effect_sd if kind == "effect" else 1.5)
    res = run_grid(fsets, df, models, ["clean"], folds=5, clean_repeats=1, seed=s, n_jobs=1)
    splits = clean_splits(df[LABEL_COLS].to_numpy(int), df["subject_id"].to_numpy(), 5, 1, s)
    res += [reference_cv(r, df, splits, s) for r in refs]
    ct = contrast_table(res, df, contrasts, n_boot, s, n_jobs=1, min_readings=0)
    fam = ct[ct["in_family"]]
    p_old = holm(old_pvalues(res, df, contrasts, n_boot, s))
    pb, pt = fam["p_boot_holm"].to_numpy(float), fam["p_ttest_holm"].to_numpy(float)
    calls = {"old": p_old < 0.05, "boot": pb < 0.05, "ttest": pt < 0.05, "both": (pb < 0.05) & (pt < 0.05)}
    untestable = int((fam["folds_scored"] < 2).sum()) + int(fam["p_boot"].isna().sum())
    return {k: v.astype(int).tolist() for k, v in calls.items()}, len(fam), untestable


def summarise(kind, n, sims, per, n_fam, untestable, seconds, models):
    out = {"kind": kind, "readings": n, "sims": sims, "family": n_fam, "models": models,
           "untestable_share": round(untestable / max(1, sims * n_fam), 3), "seconds": round(seconds, 1)}
    for k, rows in per.items():
        a = np.array(rows, dtype=float)
        fwer = float((a.sum(1) > 0).mean()) if a.size else float("nan")
        out[f"fwer_{k}"] = round(fwer, 4)
        out[f"fwer_{k}_se"] = round(float(np.sqrt(fwer * (1 - fwer) / max(1, sims))), 4)
        out[f"per_contrast_{k}"] = round(float(a.mean()) if a.size else float("nan"), 4)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", nargs="+", default=["permuted", "patients", "effect"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[8, 50, 200, 799])
    ap.add_argument("--sims", nargs="+", type=int, default=[200], help="one value, or one per size")
    ap.add_argument("--models", nargs="+", default=["decision_tree", "random_forest"])
    ap.add_argument("--n_boot", type=int, default=200)
    ap.add_argument("--out", default="bench/results/null.jsonl")
    ap.add_argument("--progress", action="store_true", help="one line per simulation on stderr")
    ap.add_argument("--effect_sd", type=float, default=1.0, help="effect: set A's noise SD around the latent (B: 1.5)")
    ap.add_argument("--first", type=int, default=0, help="seed of the first simulation (split a run over processes)")
    a = ap.parse_args()
    sims = a.sims * len(a.sizes) if len(a.sims) == 1 else a.sims
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    for kind in a.kind:
        for n, S in zip(a.sizes, sims):
            if kind in ("patients", "effect") and n < 50: continue   # 8 readings cannot hold 5 folds of patients with both classes
            per, t0, n_fam, untestable = {}, time.perf_counter(), 0, 0
            for s in range(a.first, a.first + S):
                calls, n_fam, u = one_sim(kind, n, s, a.models, a.n_boot, a.effect_sd)
                untestable += u
                for k, v in calls.items(): per.setdefault(k, []).append(v)
                tag = f"{kind}{a.effect_sd:g}" if kind == "effect" else kind
                if a.progress: print(f"{tag} {n} sim {s + 1 - a.first}/{S}: {json.dumps({k: sum(v) for k, v in calls.items()})}",
                                     file=sys.stderr, flush=True)
            line = {**summarise(kind, n, S, per, n_fam, untestable, time.perf_counter() - t0, a.models), "first": a.first,
                    "calls": {k: [int(sum(r)) for r in v] for k, v in per.items()}}   # per simulation: pools runs
            print(json.dumps(line), flush=True)
            with open(a.out, "a") as f: f.write(json.dumps({**line, "date": time.strftime("%Y-%m-%d")}) + "\n")


if __name__ == "__main__":
    main()
