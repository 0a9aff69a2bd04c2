"""03_augment against the real local model (SmolLM2 through llama.cpp): a few readings and two lesions. The ACK here
is written by hand (Phase II runs for real in the notebook and in `test_build_ack_on_the_real_store`), so that the
tests can look for its text in the prompts."""
import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from dallm.augment import (Ack, AckAnswer, FeatureSpec, build_ack, clean_value_messages, feature_tables, leak_reason,
                           load_expert_features, load_questions, make_groups, mode_features, paper_boolean_prompt,
                           paper_numeric_prompt, parse_clean_values, parse_paper_booleans, run_values, values_schema,
                           write_feature_tables)
from dallm.cohort import LABEL_COLS
from dallm.llm import get_llm

LES = ["atelectasis", "pleural_abnormality"]
MARK = "ACKMARKER"  # a word that appears only in the ACK


@pytest.fixture(scope="module")
def ack():
    return Ack(answers=[AckAnswer(lesion=l, question_id="symptoms", question=f"What are the symptoms associated with {l}?",
                                  answer=f"{MARK}: {l} causes cough, shortness of breath and low oxygen saturation.",
                                  chunk_ids=[f"chunk-{l}"]) for l in LES],
               model="hand-written", stores=dict.fromkeys(LES, "vector"), config="c_top1_wikipedia", k=4)


@pytest.fixture(scope="module")
def features():
    gen = [FeatureSpec(name="cough", lesions=["atelectasis"], chunk_ids=["chunk-atelectasis"]),
           FeatureSpec(name="respiratory rate", type="numeric", unit="breaths/min", low=4, high=70, lesions=["pleural_abnormality"]),
           FeatureSpec(name="pleural effusion", lesions=["pleural_abnormality"], leaks=leak_reason("pleural effusion"))]
    return gen + load_expert_features()[:2]


@pytest.fixture(scope="module")
def rows(synth799):
    return synth799.tidy.drop_duplicates("dicom_id").head(3).reset_index(drop=True)


def test_clean_values_structured_with_reasons(ack, features, rows, tmp_path_factory):
    llm = get_llm(cache=tmp_path_factory.mktemp("aug") / "c.sqlite")
    fs = mode_features({"x": features[:3]}, features[3:], "clean")
    assert "f_pleural_effusion" not in {f.key for f in fs}  # restates a label: excluded in clean mode
    long = run_values(llm, rows, make_groups(fs, ack), "clean")
    assert len(long) == len(rows) * len(fs) and set(long["reading_id"]) == set(rows["reading_id"])
    present, missing = long[long["value"].notna()], long[long["value"].isna()]
    assert len(present) > 0 and (present["missing"] == "").all()
    assert (missing["missing"] != "").all()                      # every missing value says why
    assert present["reason"].str.len().gt(0).mean() > 0.8        # reasons kept
    kinds = {f.key: f.type for f in fs}
    b = present[present["feature"].map(kinds) == "boolean"]["value"]
    assert b.isin([0.0, 1.0]).all()
    n = present[present["feature"] == "f_respiratory_rate"]["value"]
    assert n.between(4, 70).all()
    assert (long.loc[long["feature"] == "f_cough", "chunk_ids"] == "chunk-atelectasis").all()  # provenance kept


def test_clean_prompt_never_contains_a_label(ack, features, rows):
    g = make_groups(features, ack)[0]
    row = rows.iloc[0]
    flipped = row.copy()
    for c in [*LABEL_COLS, *[c for c in row.index if c.startswith(("cert_", "chexpert_"))]]:
        flipped[c] = 1 - row[c] if c in LABEL_COLS else (0 if row[c] else 1)
    assert clean_value_messages(row, g) == clean_value_messages(flipped, g)
    # the authors' prompt, by contrast, carries the labels
    assert paper_boolean_prompt(row, g.features) != paper_boolean_prompt(flipped, g.features)


def test_ablation_prompts_hold_no_ack_text(ack, features, rows):
    row = rows.iloc[0]
    with_ack, without = make_groups(features, ack), make_groups(features, None)
    assert any(MARK in clean_value_messages(row, g)[0]["content"] for g in with_ack)
    assert any(f"Answer: {MARK}" in paper_numeric_prompt(row, g.features, g.prior_paper_qa)[1]["content"] for g in with_ack)
    for g in without:
        assert MARK not in json.dumps(clean_value_messages(row, g))
        assert MARK not in json.dumps(paper_boolean_prompt(row, g.features, g.prior_paper))
        assert MARK not in json.dumps(paper_numeric_prompt(row, g.features, g.prior_paper_qa))


def test_expert_group_gets_whole_answers_of_every_lesion_when_answers_are_whole(features):
    "The paper profile (ack_chars 0) shows the expert features every answer of every lesion, whole; cut answers give a compact ACK."
    long = "x" * 600
    ack = Ack(answers=[AckAnswer(lesion=l, question_id=q, question=f"{q} of {l}?", answer=f"{l} {q} {long} END-{l}-{q}")
                       for l in LES for q in ("symptoms", "causes")],
              model="hand-written", stores=dict.fromkeys(LES, "vector"), config="c_top1_wikipedia", k=4)
    expert = [g for g in make_groups(features, ack, 0) if g.name == "expert"][0]
    for a in ack.answers:
        assert a.answer in expert.prior and f"Q: {a.question}" in expert.prior
        assert f"Question: {a.question}" in expert.prior_paper_qa and a.answer in expert.prior_paper
    compact = [g for g in make_groups(features, ack, 300) if g.name == "expert"][0]
    assert compact.prior.count("Q: ") == len(LES) and "END-" not in compact.prior and "causes of" not in compact.prior
    assert len(compact.prior) < 2 * (400 + 60)
    # an explicit cap cuts each lesion's first answer, whatever the other answers' cut
    capped = [g for g in make_groups(features, ack, 0, 50) if g.name == "expert"][0]
    assert capped.prior.count("Q: ") == len(LES) and "END-" not in capped.prior
    assert [len(b.split("\n")[0]) for b in capped.prior.split("A: ")[1:]] == [50] * len(LES)


def test_unparseable_answer_is_missing_with_a_reason(ack, features, rows, tmp_path):
    llm = get_llm(cache=tmp_path / "c.sqlite")
    g = make_groups(features[:2], ack)[0]
    # a real answer cut off after 5 tokens: not valid JSON
    ans = llm.chat(clean_value_messages(rows.iloc[0], g), schema=values_schema(g.features), max_tokens=5)
    assert ans is None
    got = parse_clean_values(ans, g.features)
    assert all(np.isnan(r["value"]) and r["missing"] == "the answer was not valid JSON" for r in got)
    got = parse_paper_booleans("I think the patient is fine.", g.features)
    assert [r["value_authors"] for r in got] == [0.0] * len(g.features)   # the authors' silent False
    assert all(np.isnan(r["value"]) and r["missing"] for r in got)         # corrected: missing, with the reason


SCRIPT = """
import sys, pandas as pd
from dallm.augment import Ack, FeatureSpec, make_groups, run_values
from dallm.llm import get_llm
d = sys.argv[1]
ack = Ack.model_validate_json(open(f"{d}/ack.json").read())
fs = [FeatureSpec.model_validate(x) for x in pd.read_json(f"{d}/features.json", typ="series")]
rows = pd.read_parquet(f"{d}/rows.parquet")
out = run_values(get_llm(cache=sys.argv[2]), rows, make_groups(fs, ack), sys.argv[3], seed=0)
out.to_parquet(sys.argv[4])
"""


@pytest.mark.parametrize("mode", ["clean", "paper"])
def test_killed_run_resumes_without_repeating_a_call(ack, features, rows, tmp_path, mode):
    (tmp_path / "ack.json").write_text(ack.model_dump_json())
    pd.Series([f.model_dump() for f in features]).to_json(tmp_path / "features.json")
    rows.to_parquet(tmp_path / "rows.parquet")
    run = lambda cache, out: [sys.executable, "-c", SCRIPT, str(tmp_path), str(cache), mode, str(out)]
    # the reference: one uninterrupted run with its own cache
    subprocess.run(run(tmp_path / "ref.sqlite", tmp_path / "ref.parquet"), check=True, capture_output=True)
    ref = pd.read_parquet(tmp_path / "ref.parquet")
    total = sqlite3.connect(tmp_path / "ref.sqlite").execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    # the same run killed with SIGKILL after its second stored call
    cache = tmp_path / "run.sqlite"
    proc = subprocess.Popen(run(cache, tmp_path / "never.parquet"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done, t0 = 0, time.time()
    while time.time() - t0 < 120 and proc.poll() is None:
        if cache.exists():
            try: done = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
            except sqlite3.OperationalError: done = 0
            if done >= 2: break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert not (tmp_path / "never.parquet").exists() and 2 <= done < total
    stored = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    # resumed in this process: only the calls not yet stored reach the model, and the table is the reference's
    llm = get_llm(cache=cache)
    fs = [FeatureSpec.model_validate(f.model_dump()) for f in features]
    out = run_values(llm, rows, make_groups(fs, ack), mode, seed=0)
    assert llm.ledger.calls == total - stored and llm.ledger.cache_hits == stored
    pd.testing.assert_frame_equal(out, ref)


def test_feature_tables_are_what_04_reads(ack, features, rows, tmp_path, synth799):
    from dallm.evaluate import check_features
    llm = get_llm(cache=tmp_path / "c.sqlite")
    fs = mode_features({"x": features[:3]}, features[3:], "paper")
    long = pd.concat([run_values(llm, rows, make_groups(fs, a), "paper").assign(mode="paper", variant=v)
                      for v, a in (("ack", ack), ("ablation", None))], ignore_index=True)
    t = feature_tables(long, fs, "paper")
    assert set(t) == {"paper_augmented", "paper_augmented_expert", "paper_ablation"}
    assert t["paper_augmented_expert"].shape == (len(rows), len(fs)) and t["paper_augmented"].shape[1] == 3
    paths = write_feature_tables(t, tmp_path / "augmented")
    sub = synth799.tidy[synth799.tidy["reading_id"].isin(rows["reading_id"])]
    X = check_features(pd.read_parquet(paths[1]), sub, str(paths[1]))  # columns without any value were dropped on writing
    booleans = [f.key for f in fs if f.type == "boolean"]
    assert X[booleans].notna().all().all()  # the authors' parser never leaves a boolean missing (unparseable -> False)


def test_paper_booleans_asked_again_while_a_line_is_missing(ack, features, rows, tmp_path):
    """The authors' loop: a boolean reply without one numbered line per feature failed their assert and was asked again
    (here with the next seed), up to 10 times. The first attempt is the single-attempt call (from the cache); a call stops
    at its first complete reply; the attempts are recorded."""
    llm = get_llm(cache=tmp_path / "c.sqlite")
    fs = mode_features({"x": features[:3]}, features[3:], "paper")
    groups = make_groups(fs, ack)
    once = run_values(llm, rows, groups, "paper", seed=0)
    hits = llm.ledger.cache_hits
    again = run_values(llm, rows, groups, "paper", seed=0, attempts=4)
    booleans = {f.key for f in fs if f.type != "numeric"}
    calls = lambda d: d[d["feature"].isin(booleans)].groupby(["reading_id", "group"]).agg(
        attempts=("attempts", "max"), incomplete=("missing", lambda m: m.str.startswith("no '").any()))
    c1, c4 = calls(once), calls(again)
    assert (c1["attempts"] == 1).all() and c4["attempts"].between(1, 4).all()
    assert llm.ledger.cache_hits - hits >= len(c1)                         # every first attempt came from the cache
    assert (c4.loc[~c1["incomplete"], "attempts"] == 1).all()              # a complete first reply is kept
    assert (c4.loc[c1["incomplete"], "attempts"] >= 2).all()               # an incomplete one is asked again
    assert not c4.loc[c4["attempts"] < 4, "incomplete"].any()              # and stops at the first complete reply
    print(f"{int(c1['incomplete'].sum())} of {len(c1)} first replies incomplete; after up to 4 attempts "
          f"{int(c4['incomplete'].sum())}")


def test_build_ack_on_the_real_store(synth799, tmp_path):
    from dallm.embed import MiniLMEmbeddings
    from dallm.knowledge import chunk_documents, load_bundled_corpus
    docs = load_bundled_corpus()
    chunks = chunk_documents(docs, 256, 32)
    queries, qs = load_questions()
    llm = get_llm(cache=tmp_path / "c.sqlite")
    a = build_ack(docs, chunks, ["atelectasis"], queries, qs[:2], llm=llm, embeddings=MiniLMEmbeddings(), store="vector")
    assert [x.question_id for x in a.answers] == ["symptoms", "causes"] and a.stores == {"atelectasis": "vector"}
    ids = {c.id for c in chunks}
    assert all(x.answer and x.chunk_ids and set(x.chunk_ids) <= ids for x in a.answers)


def test_without_findings_the_finding_text_never_reaches_the_model(ack, features, rows, tmp_path_factory):
    from dallm.augmenter import augment_mode
    from dallm.cohort import report_sections
    g = make_groups(features, ack)[0]
    for _, row in rows.iterrows():
        sec = report_sections(row["report"])
        user = clean_value_messages(row, g, findings=False)[1]["content"]
        for name in ("FINDINGS", "IMPRESSION"):
            for sentence in filter(None, (s.strip() for s in sec.get(name, "").split("."))):
                assert sentence not in user, (name, sentence)
        for name in ("INDICATION", "COMPARISON"):
            if sec.get(name): assert sec[name] in user                  # the context is kept
        assert clean_value_messages(row, g, findings=False)[0] == clean_value_messages(row, g)[0]   # same ACK and features
    # one real run: the variant has its own values and its own table, clean mode only
    llm = get_llm(cache=tmp_path_factory.mktemp("nofind") / "c.sqlite")
    fs = mode_features({"x": features[:1]}, [], "clean")
    long = augment_mode(llm, rows.head(2), fs, ack, "clean", without_findings=True)
    assert sorted(long["variant"].unique()) == ["ablation", "ack", "nofindings"]
    assert llm.ledger.calls == 6                                      # 2 readings x 1 group x 3 variants, none shared
    tables = feature_tables(long, fs, "clean")
    assert set(tables) == {"clean_augmented", "clean_augmented_expert", "clean_ablation", "clean_augmented_nofindings"}
    assert list(tables["clean_augmented_nofindings"].columns) == [f.key for f in fs]
    assert "nofindings" not in set(augment_mode(llm, rows.head(1), fs, ack, "paper", without_findings=True)["variant"])


def test_a_restated_label_is_found_by_synonym_and_by_meaning():
    from dallm.augment import flag_near_labels
    missed_before = ["pneumonia", "pericardial effusion", "fluid around the heart", "effusion", "heart enlargement",
                     "lobar collapse"]
    assert all(leak_reason(n) for n in missed_before)
    assert not any(leak_reason(n) for n in ["circulatory collapse", "cough", "respiratory failure", "volume overload"])
    by_meaning = ["water in the lungs", "thickened pleura", "swollen heart"]     # no name rule matches these
    assert not any(leak_reason(n) for n in by_meaning)
    flagged = flag_near_labels([FeatureSpec(name=n) for n in by_meaning + ["cough", "oxygen saturation"]])
    assert [bool(f.leaks) for f in flagged] == [True, True, True, False, False]
    assert all(f.nearest_label and 0 < f.label_cosine <= 1 for f in flagged)
    # clean mode drops them; the expert features keep their one name-rule leak only
    fs = mode_features({"x": flagged}, load_expert_features(), "clean")
    assert {f.name for f in fs} >= {"cough", "oxygen saturation"} and not {f.name for f in fs} & set(by_meaning)
    assert [f.name for f in mode_features({}, load_expert_features(), "paper") if f.leaks] == ["lung collapsed"]


def test_out_of_sample_audit_catches_a_planted_leak_and_not_noise():
    from dallm.augment import oos_leakage_audit
    rng = np.random.default_rng(3)
    n = 400
    coh = pd.DataFrame({"reading_id": [f"r{i}" for i in range(n)], "subject_id": rng.integers(0, 150, n)})
    for c in LABEL_COLS: coh[c] = rng.integers(0, 2, n)
    leak = coh["label_consolidation"].to_numpy() + rng.normal(0, 1.0, n)
    leak[rng.random(n) < 0.3] = np.nan                                   # missing values imputed inside the folds
    leaky = pd.DataFrame({"f_leak": leak, "f_noise": rng.normal(size=n)}, index=coh["reading_id"])
    noise = pd.DataFrame({f"f_{i}": rng.normal(size=n) for i in range(6)}, index=coh["reading_id"])
    single, multi = oos_leakage_audit({"leaky": leaky, "noise": noise}, coh, n_perm=100, n_perm_multi=10)
    s = single.set_index(["table", "feature"])
    assert s.loc[("leaky", "f_leak"), "best_label"] == "consolidation" and s.loc[("leaky", "f_leak"), "flagged"]
    assert s.loc[("leaky", "f_leak"), "cv_auroc"] > 0.6
    assert not single[single["table"] == "noise"]["flagged"].any()
    m = multi.set_index("table")
    assert m.loc["leaky", "p_perm"] < 0.2 < m.loc["noise", "p_perm"]


def test_max_t_audit_flags_a_planted_leak_in_a_90_column_table_and_no_noise():
    """Westfall-Young max-T over features x labels: one leak among 89 noise columns (numbers and booleans with missing
    values, as augmented tables are) is flagged and no noise column is. Holm over 90 per-feature permutation P-values
    could not flag anything: its smallest adjusted P is 90 / (1 + n_perm)."""
    from dallm.augment import oos_leakage_audit
    rng = np.random.default_rng(11)
    n, n_perm = 300, 200
    coh = pd.DataFrame({"reading_id": [f"r{i}" for i in range(n)], "subject_id": rng.integers(0, 120, n)})
    for c in LABEL_COLS: coh[c] = (rng.random(n) < 0.3).astype(int)
    cols = {f"f_num_{i}": rng.normal(size=n) for i in range(60)}
    for i in range(29):
        b = (rng.random(n) < 0.4).astype(float)
        b[rng.random(n) < 0.45] = np.nan
        cols[f"f_bool_{i}"] = b
    leak = coh["label_pulmonary_edema"].to_numpy() + rng.normal(0, 1.0, n)
    leak[rng.random(n) < 0.3] = np.nan
    cols["f_reads_the_report"] = leak
    wide = pd.DataFrame(cols, index=coh["reading_id"])
    assert wide.shape[1] == 90
    single, multi = oos_leakage_audit({"wide": wide}, coh, n_perm=n_perm, n_perm_multi=19)
    s = single.set_index("feature")
    assert s.loc["f_reads_the_report", "flagged"] and s.loc["f_reads_the_report", "best_label"] == "pulmonary_edema"
    assert s.loc["f_reads_the_report", "p_maxT"] == 1 / (1 + n_perm)
    assert single["flagged"].sum() == 1, single[single["flagged"]]
    assert 90 / (1 + n_perm) > 0.05                                    # the old Holm floor, for the record
    assert multi.loc[0, "features"] == 90 and 1 / 20 <= multi.loc[0, "p_perm"] <= 1


def test_paper_mode_replays_the_authors_inputs_from_a_copy_of_their_repository(rows, tmp_path):
    """The fixture is written here in the format of the authors' Phase III script (our text); the file is read with ast."""
    from pathlib import Path
    from dallm.augment import read_authors_inputs
    from dallm.augmenter import augment_mode
    root = Path(__file__).parent / "fixtures" / "authors_repo"
    ack, kw = read_authors_inputs(root, lesions=["atelectasis", "consolidation"])
    fs = mode_features(kw, [], "paper")
    assert [f.name for f in fs] == ["breathlessness", "recent surgery", "smoking", "heart rate", "productive cough", "fever"]
    groups = make_groups(fs, ack)
    atel = next(g for g in groups if g.name == "atelectasis")
    system, user = (m["content"] for m in paper_boolean_prompt(rows.iloc[0], atel.features, atel.prior_paper))
    assert "Recent surgery under general anaesthesia and smoking." in system and "3. smoking: {True\\False}, because..." in user
    numeric = paper_numeric_prompt(rows.iloc[0], atel.features, atel.prior_paper_qa)
    assert numeric[0]["content"] == "You are a medical expert." and "HEART RATE: [MASK]." in numeric[1]["content"]
    assert "Question: What can cause atelectasis?\nAnswer: Airway blockage" in numeric[1]["content"]
    long = augment_mode(get_llm(cache=tmp_path / "c.sqlite"), rows.head(1), fs, ack, "paper")
    assert sorted(long["feature"].unique()) == sorted(f.key for f in fs) and set(long["variant"]) == {"ack", "ablation"}
    booleans = long[long["feature"] != "f_heart_rate"]
    assert booleans["value_authors"].isin([0.0, 1.0]).all()   # the authors' boolean parser always gives True or False
    tables = feature_tables(long, fs, "paper")                # their merge lost the consolidation-only features everywhere
    assert all("f_fever" not in t and "f_smoking" in t for t in tables.values())
