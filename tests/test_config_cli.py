"""Settings, profiles and the dallm command."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dallm.cli import main, reproduce
from dallm.config import InputError, get_settings, load_profile

ROOT = Path(__file__).resolve().parents[1]


def test_secrets_never_shown(tmp_path, capsys):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-secret-value\nNEO4J_PASSWORD=pw-secret\n")
    s = get_settings(root=tmp_path)
    assert "sk-secret" not in repr(s) and "pw-secret" not in s.model_dump_json()
    assert s.openai_api_key.get_secret_value() == "sk-secret-value"


def test_env_overrides_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DALLM_SEED=3\n")
    monkeypatch.setenv("DALLM_SEED", "5")
    assert get_settings(root=tmp_path).seed == 5


def test_profile_errors(tmp_path):
    with pytest.raises(InputError, match="Available profiles"):
        load_profile("nope", ROOT)
    assert "00_ingest" in load_profile("smoke", ROOT)


def _run(*args, cwd=ROOT, env=None):
    exe = Path(sys.executable).parent / "dallm"  # the installed console script
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_cli_synth_and_load(tmp_path):
    r = _run("cohort", "synth", "--n", "120", "--seed", "4", "--out", str(tmp_path / "raw"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "raw/mimic-iv-ed/ed/triage.csv.gz").is_file()
    r = _run("cohort", "load", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "c.csv"))
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(tmp_path / "c.csv")) == 120
    r = _run("cohort", "load", "--root", str(tmp_path / "absent"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def _project(tmp_path, cells_by_nb, profile):
    (tmp_path / "nbs").mkdir()
    (tmp_path / "settings.ini").write_text("[DEFAULT]\n")
    for name, cells in cells_by_nb.items():
        nb = {"cells": [{"id": f"cell{i}", "cell_type": "code", "metadata": {"tags": ["parameters"]} if i == 0 else {}, "source": c,
                         "outputs": [], "execution_count": None} for i, c in enumerate(cells)],
              "metadata": {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}},
              "nbformat": 4, "nbformat_minor": 5}
        (tmp_path / "nbs" / f"{name}.ipynb").write_text(json.dumps(nb))
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "t.yaml").write_text(profile)
    return tmp_path


def test_reproduce_reports_failure_and_continues(tmp_path, monkeypatch):
    root = _project(tmp_path, {
        "00_fails": ['profile: str = "x"\nx: int = 1', "y = 2", "raise ValueError(f'bad x {x}')"],
        "01_works": ['profile: str = "x"', "open('done.txt', 'w').write(profile)"]}, "00_fails:\n  x: 7\n")
    monkeypatch.setenv("DALLM_HOME", str(root))
    recs = reproduce("t")
    assert [r["status"] for r in recs] == ["failed", "ok"]
    # cell numbers are those of the executed notebook in runs/, where papermill adds its injected-parameters cell
    assert recs[0]["cell"] == 4 and "bad x 7" in recs[0]["error"]
    assert (root / "nbs" / "done.txt").read_text() == "t"
    assert (root / "runs" / "t" / "01_works.ipynb").is_file()
    times = pd.read_csv(root / "results" / "t" / "run_times.csv")
    assert times["notebook"].tolist() == ["00_fails", "01_works"] and (times["seconds"] > 0).all()
    assert times["status"].tolist() == ["failed", "ok"]
    assert main(["reproduce", "--profile", "t"]) == 1


@pytest.mark.parametrize("argv,names", [
    (["cohort", "synth", "--n", "-5"], "--n -5"), (["cohort", "synth", "--vitals_signal", "-1"], "--vitals_signal"),
    (["cohort", "load", "--root", "/no/such/folder"], "--root"), (["llm", "serve", "--port", "99999"], "--port 99999"),
    (["neo4j", "start", "--heap", "lots"], "--heap"), (["reproduce", "--profile", "nope"], "Profile 'nope' not found"),
    (["reproduce", "--kernel", "nope"], "--kernel 'nope'"), (["reproduce", "--only", "99_x"], "99_x")])
def test_cli_arguments_are_checked_before_work(argv, names, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_reproduce_refuses_unknown_parameter(tmp_path, monkeypatch):
    root = _project(tmp_path, {"00_a": ['profile: str = "x"\nn: int = 1']}, "00_a:\n  nn: 2\n")
    monkeypatch.setenv("DALLM_HOME", str(root))
    with pytest.raises(InputError, match=r"params/t.yaml: notebook 00_a has no parameter\(s\) \['nn'\]"):
        reproduce("t")


SHIPPED = sorted(p.stem for p in (Path(__file__).parents[1] / "params").glob("*.yaml"))


def test_the_shipped_profiles_are_the_documented_ones():
    assert SHIPPED == ["clean200", "clean200-flat", "endpoint-smoke", "paper", "paper-sim", "smoke"]


@pytest.mark.parametrize("profile", SHIPPED)
def test_shipped_profiles_match_the_notebooks_parameters(profile):
    # every parameter line must parse (papermill skips a line it cannot read, e.g. a comment with '='), and every
    # name a profile sets must exist in its notebook's parameters cell
    import papermill as pm
    import nbformat
    from dallm.cli import check_profile
    from dallm.config import project_root
    prof = check_profile(profile)
    assert {"00_ingest", "04_evaluate"} <= set(prof)
    # clean200 and clean200-flat: 00, 03, 04
    assert profile.startswith("clean200") or {"01_experiment1_mse", "02_retrieval_compare", "03_augment"} <= set(prof)
    for nb in sorted((project_root() / "nbs").glob("[0-9][0-9]_*.ipynb")):
        cell = next(c for c in nbformat.read(nb, 4).cells if "parameters" in c.metadata.get("tags", []))
        n_lines = sum(1 for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#"))
        assert len(pm.inspect_notebook(str(nb))) == n_lines, f"{nb.name}: a parameter line does not parse"
