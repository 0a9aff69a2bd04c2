"""The chapters as one pipeline, run as a researcher would in batch: `00_ingest` is pointed at a raw MIMIC/REFLACX-layout
export of 300 readings (not the default 799), and Tables 2 and 4 must then be computed on exactly those readings.
The notebooks run through papermill on the project's registered `dallm` Jupyter kernel (the one JupyterLab and
`dallm reproduce` use), not nbdev's in-process runner."""
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from dallm.cli import run_notebook
from dallm.synth import synthesize, write_raw

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from jupyter_client.kernelspec import KernelSpecManager
    assert "dallm" in KernelSpecManager().find_kernel_specs(), "the dallm kernel is not registered: run `make kernel`"
    tmp = tmp_path_factory.mktemp("pipeline")
    raw = write_raw(synthesize(300, seed=11), tmp / "raw300")
    env = {"DALLM_DATA_DIR": str(tmp / "data"), "DALLM_RESULTS_DIR": str(tmp / "results"), "DALLM_PROFILE": "pipe",
           "DALLM_SEED": "0", "DALLM_LLM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits them: the settings of every chapter
    runs = {}
    try:
        for nb, params in [("00_ingest", {"source": str(raw)}),
                           ("01_experiment1_mse", {"models": ["tiny-bert-minilm"], "modes": ["clean"], "n_readings": 0}),
                           ("04_evaluate", {"models": ["random_forest"], "protocols": ["clean", "paper"], "repeats": 1,
                                            "folds": 3, "n_boot": 50})]:
            runs[nb] = run_notebook(ROOT / "nbs" / f"{nb}.ipynb", tmp / f"{nb}.ipynb", params, "dallm")
    finally:
        for k, v in saved.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
    ids = set(pd.read_parquet(raw / "cohort.parquet")["reading_id"].astype(str))
    return tmp, runs, ids


def test_chapters_ran_on_the_dallm_kernel(pipeline):
    tmp, runs, _ = pipeline
    assert {n: r["status"] for n, r in runs.items()} == dict.fromkeys(runs, "ok"), runs
    assert {r["kernel"] for r in runs.values()} == {"dallm"}
    # the dallm kernelspec's environment silences tqdm's "IProgress not found" warning, which the generic python3
    # kernel prints in every notebook that imports tqdm.auto: its absence shows the kernelspec was really used
    for nb in runs:
        outputs = [o for c in json.loads((tmp / f"{nb}.ipynb").read_text())["cells"] for o in c.get("outputs", [])]
        assert outputs and not any("IProgress not found" in "".join(o.get("text", "")) for o in outputs), nb


def test_ingest_chose_the_cohort_once(pipeline):
    tmp, _, ids = pipeline
    cohort = pd.read_parquet(tmp / "data" / "pipe" / "cohort.parquet")
    assert set(cohort["reading_id"]) == ids and len(cohort) == 300
    card = json.loads((tmp / "data" / "pipe" / "cohort.json").read_text())
    assert card["readings"] == 300 and "raw300" in card["source"]


def test_table2_is_computed_on_exactly_those_readings(pipeline):
    tmp, _, ids = pipeline
    res = tmp / "results" / "pipe"
    assert set(pd.read_csv(res / "exp1_readings.csv")["reading_id"]) == ids
    assert set(pd.read_csv(res / "exp1_values.csv")["reading_id"]) == ids
    assert "300 readings" in (res / "table2_value_mse.md").read_text()


def test_table4_is_computed_on_exactly_those_readings(pipeline):
    tmp, _, ids = pipeline
    res = tmp / "results" / "pipe"
    preds = pd.read_csv(res / "eval_predictions.csv")
    assert set(preds.loc[preds["protocol"] == "clean", "reading_id"]) == ids
    assert set(preds.loc[preds["protocol"] == "paper", "reading_id"]) <= ids
    assert "(300 readings)" in (res / "table4_downstream_clean.md").read_text()


def test_a_chapter_run_alone_names_the_chapter_that_writes_its_input(tmp_path, monkeypatch):
    from dallm.config import get_settings
    from dallm.pipeline import chapter, read_cohort
    ch = chapter("04_evaluate", "lonely", settings=get_settings(data_dir=str(tmp_path), results_dir=str(tmp_path)))
    with pytest.raises(Exception, match=r"written by chapter 00_ingest.*--only 00_ingest"):
        read_cohort(ch)
