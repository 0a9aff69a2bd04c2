"""dallm as a newcomer gets it: the package built and installed with pip (`pip install .`, here without dependencies into
a folder outside the repository, since this machine's dependencies are the project's venv), then imported from another
folder. Checks that the package data ship (the corpus, the expert questions, the model registry, the prices) and that the
importer's path of the README runs: a cohort, feature tables, `evaluate_feature_sets`, `MultiLabelModel`, `Augmenter`."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys, dallm
    from pathlib import Path
    assert Path(dallm.__file__).is_relative_to(Path(sys.argv[1])), dallm.__file__   # the installed copy, not the checkout
    from dallm.knowledge import load_bundled_corpus
    from dallm.augment import load_expert_features, load_questions
    from dallm.llm_registry import load_registry
    from dallm.synth import synthesize
    from dallm.evaluate import original_features, keyword_features
    from dallm import Augmenter, MultiLabelModel, evaluate_feature_sets   # the package root's names
    from dallm.cohort import LABEL_COLS
    assert len(load_bundled_corpus()) > 0 and len(load_expert_features()) == 13 and len(load_questions()[1]) == 7 and "smollm2" in load_registry()
    df = synthesize(120, seed=0).tidy
    ids = df["reading_id"].astype(str)
    X0 = original_features(df)
    Xk = X0.join(keyword_features(df).set_index(ids))
    ev = evaluate_feature_sets({"original": X0, "keywords": Xk}, df.set_index("reading_id")[LABEL_COLS], df["subject_id"],
                               models=["decision_tree"], folds=3, n_boot=50, n_jobs=1)
    print(ev.summary.splitlines()[-1])
    print(MultiLabelModel("xgboost", n_jobs=1).fit(X0.to_numpy(), df[LABEL_COLS].to_numpy()).predict_proba(X0.to_numpy()[:2]).shape)
    print(sorted(Augmenter(llm="smollm2", lesions=("atelectasis",)).get_params())[:3])
''')


def test_pip_installed_package_runs_outside_the_repository(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True, cwd=tmp_path)
    wheel, = wheels.glob("dallm-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--target", str(target), str(wheel)], check=True, cwd=tmp_path)
    assert (target / "dallm" / "data" / "corpus.yaml").exists()
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(target)], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "keywords vs original" in run.stdout and "(2, 5)" in run.stdout, run.stdout


def test_no_import_circle():
    "The package's module-level import graph has no circle (store kinds register themselves instead of importing back)."
    import ast
    import networkx as nx
    g = nx.DiGraph()
    for f in sorted((ROOT / "dallm").glob("*.py")):
        g.add_node(f.stem)
        for node in ast.parse(f.read_text(encoding="utf-8")).body:   # module level: what runs at import time
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module.removeprefix("dallm.") if node.level == 0 else node.module
                if node.level or node.module.startswith("dallm."): g.add_edge(f.stem, mod.split(".")[0])
    assert g.number_of_edges() > 20
    assert list(nx.simple_cycles(g)) == []


def test_the_package_root_names_load_on_first_use():
    "`from dallm import Augmenter, ...` works, and `import dallm` alone loads none of the heavy modules."
    code = textwrap.dedent('''
        import sys, dallm
        assert not any(m in sys.modules for m in ("torch", "llama_cpp", "dallm.augmenter", "dallm.evaluate")), "eager"
        from dallm import Augmenter, MultiLabelModel, evaluate_feature_sets, get_llm, get_settings, synthesize
        import dallm.augmenter, dallm.models, dallm.evaluate
        assert Augmenter is dallm.augmenter.Augmenter and MultiLabelModel is dallm.models.MultiLabelModel
        assert evaluate_feature_sets is dallm.evaluate.evaluate_feature_sets and callable(synthesize)
        assert "Augmenter" in dir(dallm) and set(dallm.__all__) >= {"Augmenter", "evaluate_feature_sets"}
        try: dallm.augment_everything
        except AttributeError as e: print("refused:", e)
    ''')
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "refused: module 'dallm' has no attribute 'augment_everything'" in run.stdout, run.stdout
