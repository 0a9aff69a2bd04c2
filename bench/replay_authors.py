"""Paper mode replayed on the authors' own Phase III inputs: their 35 knowledge-base answers and their hand-split
features, read from a copy of their public repository (github.com/ChihchengHsieh/DALL-M, file
`[extend] [2.a] whole-dataset-aug-debug.py`; never imported or run: `ast` reads two literals).

Prints:
  1. which file, how many answers, which of our question ids each of their questions maps to;
  2. their features per lesion (boolean / numeric), the names repeated across lesions, and the names the leak rules flag;
  3. the columns of each paper-mode table after the authors' merge (consolidation's features lost), beside the paper's
     counts (Original 8, Augmented 78, Augmented + expert 91, ablation 91);
  4. with `--n N` (default 4): every value of N synthetic readings in paper mode on their inputs, with the ACK and in
     the ablation (the model `--llm`, whole answers as the authors, `--attempts` tries per boolean call): how many values
     the authors' parser read, how many the corrected parser could not, attempts used, seconds;
  5. what differs from the features dallm regenerates in paper mode (`--regenerated`, a features_paper.json).
Run: python bench/replay_authors.py --authors-repo PATH [--n 4] [--llm smollm2] [--attempts 3]
"""
import argparse
import collections
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors-repo", default=os.environ.get("DALLM_AUTHORS_REPO", ""))
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--llm", default="smollm2")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--regenerated", default="data/smoke/augment/features_paper.json")
    a = ap.parse_args()
    if not a.authors_repo: ap.error("--authors-repo (or DALLM_AUTHORS_REPO): a copy of github.com/ChihchengHsieh/DALL-M")
    from dallm.augment import (AUTHORS_AUG_FILE, PAPER_FEATURE_COUNTS, FeatureSpec, feature_tables, load_expert_features,
                               mode_features, read_authors_inputs)
    from dallm.augmenter import augment_mode
    from dallm.llm import get_llm
    from dallm.pipeline import sample_readings
    from dallm.synth import synthesize

    ack, kw = read_authors_inputs(a.authors_repo)
    print(f"file: {Path(a.authors_repo) / AUTHORS_AUG_FILE}")
    print(f"answers: {len(ack.answers)} over {len({x.lesion for x in ack.answers})} lesions; question ids: "
          f"{dict(collections.Counter(x.question_id for x in ack.answers))}")
    names = collections.Counter(f.name for fs in kw.values() for f in fs)
    for les, fs in kw.items():
        print(f"  {les}: {sum(f.type == 'boolean' for f in fs)} boolean, {sum(f.type == 'numeric' for f in fs)} numeric"
              + (f" ({', '.join(f.name + ' [' + f.unit + ']' for f in fs if f.type == 'numeric')})" if any(f.type == 'numeric' for f in fs) else ""))
    print(f"their names: {sum(names.values())}, distinct {len(names)}; in two lesions: {sorted(n for n, c in names.items() if c > 1)}")
    expert = load_expert_features()
    paper = mode_features(kw, expert, "paper")
    clean = mode_features(kw, expert, "clean")
    print(f"paper mode: {len(paper)} features ({sum(f.source == 'authors' for f in paper)} theirs + {sum(f.source == 'expert' for f in paper)} expert); "
          f"clean mode would keep {len(clean)}")
    print("restating a label (kept in paper mode, dropped in clean):")
    for f in paper:
        if f.leaks: print(f"  {f.name}: {f.leaks}")

    df = synthesize(799, seed=0).tidy.drop_duplicates("dicom_id")
    rows = sample_readings(df, max(a.n, 1), seed=0)
    llm = get_llm(a.llm)
    t0 = time.perf_counter()
    long = augment_mode(llm, rows.head(a.n), paper, ack, "paper", max_chars=0, attempts=a.attempts) if a.n else None
    secs = time.perf_counter() - t0
    if long is None:  # the column counts need only the feature list: an empty values table of the right shape
        import pandas as pd
        long = pd.DataFrame({"reading_id": "r0", "feature": [f.key for f in paper] * 2, "value": float("nan"),
                             "value_authors": float("nan"), "variant": ["ack"] * len(paper) + ["ablation"] * len(paper)})
    tables = feature_tables(long, paper, "paper")
    orig = PAPER_FEATURE_COUNTS["original"]
    print("columns (Original's 8 + new), ours on their inputs vs the paper's:")
    for name, paper_n in (("paper_augmented", "augmented"), ("paper_augmented_expert", "augmented_expert"), ("paper_ablation", "ablation")):
        print(f"  {name}: {orig} + {tables[name].shape[1]} = {orig + tables[name].shape[1]}   paper: {PAPER_FEATURE_COUNTS[paper_n]}")
    lost = [f.name for f in paper if set(f.lesions) == {"consolidation"}]
    print(f"lost by the authors' merge (consolidation only): {len(lost)}: {lost}")
    if a.n:
        for v, d in long.groupby("variant"):
            print(f"values ({v}, {a.llm}, {a.n} readings): {len(d)}; authors' parser read {d['value_authors'].notna().sum()}, "
                  f"True {int((d['value_authors'] == 1).sum())}; corrected parser missing {d['value'].isna().sum()}; "
                  f"attempts {dict(collections.Counter(d['attempts'].dropna().astype(int)))}")
        L = llm.ledger
        print(f"seconds {secs:.0f} ({secs / a.n:.0f} per reading); calls {L.calls}, cache hits {L.cache_hits}, "
              f"prompt tokens {L.prompt_tokens}, completion tokens {L.completion_tokens}")
    reg = Path(a.regenerated)
    if reg.is_file():
        ours = [FeatureSpec(**d) for d in json.loads(reg.read_text(encoding="utf-8"))]
        ours_gen = {f.name for f in ours if f.source != "expert"}
        theirs = {f.name for f in paper if f.source != "expert"}
        lesions = sorted({l for f in ours if f.source != "expert" for l in f.lesions})
        print(f"dallm's regenerated paper-mode keywords ({reg}, lesions {lesions}): {len(ours_gen)}; shared with theirs: "
              f"{sorted(ours_gen & theirs)}; theirs over those lesions: "
              f"{sum(1 for f in paper if f.source != 'expert' and set(f.lesions) & set(lesions))}")


if __name__ == "__main__":
    main()
