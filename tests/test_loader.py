"""The real loader, run on the synthetic raw export, and its errors on bad input."""
import gzip

import pandas as pd
import pytest

from dallm.config import InputError
from dallm.loader import load_cohort, load_mimic, load_prejoined, study_datetime


def _sorted(df):
    return df.sort_values("reading_id").reset_index(drop=True)


def test_round_trip_equals_generator(raw799, synth799):
    res = load_mimic(raw799)
    pd.testing.assert_frame_equal(_sorted(res.cohort), _sorted(synth799.tidy), check_exact=False, atol=0.051)
    reasons = set(res.cleaning["reason"])
    assert {"value between 25 and 45 is Celsius", "outside 20-200"} <= reasons  # the artefacts planted at seed 0
    assert res.cohort["is_synthetic"].all()


def test_prejoined_authors_layout(raw799, synth799):
    got = _sorted(load_prejoined(raw799 / "prejoined_authors_layout.csv", reports_root=raw799 / "mimic-cxr").cohort)
    want = _sorted(synth799.tidy)
    cols = [c for c in want.columns if c != "study_datetime"]
    pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=False, atol=0.051)
    with pytest.raises(InputError, match="reports_root"):
        load_prejoined(raw799 / "prejoined_authors_layout.csv")


def test_study_time_zero_padded():
    s = study_datetime(pd.Series([21800506, 21800506]), pd.Series([80556.875, 235959.0]))
    assert s.tolist() == [pd.Timestamp("2180-05-06 08:05:56.875"), pd.Timestamp("2180-05-06 23:59:59")]


def _rewrite(path, fn):
    df = pd.read_csv(path)
    df = fn(df)
    df.to_csv(path, index=False)


def test_stay_rules(raw_copy):
    "An image with two overlapping stays, or none, is dropped and reported."
    stays_p = raw_copy / "mimic-iv-ed/ed/edstays.csv.gz"
    meta = pd.read_csv(raw_copy / "mimic-cxr-jpg/mimic-cxr-2.0.0-metadata.csv.gz")
    stays = pd.read_csv(stays_p)
    first = meta.iloc[0]
    tidy = pd.read_parquet(raw_copy / "cohort.parquet")
    stay = tidy.loc[tidy["dicom_id"] == first["dicom_id"], "stay_id"].iat[0]
    own = stays[stays["stay_id"] == stay].assign(stay_id=39999999)
    stays = pd.concat([stays, own])  # a duplicate, overlapping stay
    second = meta[meta["subject_id"] != first["subject_id"]].iloc[0]
    stays = stays[stays["subject_id"] != second["subject_id"]]  # no stay at all
    stays.to_csv(stays_p, index=False)
    res = load_mimic(raw_copy)
    assert first["dicom_id"] not in set(res.cohort["dicom_id"])
    assert second["dicom_id"] not in set(res.cohort["dicom_id"])
    why = dict(zip(res.dropped["dicom_id"], res.dropped["reason"]))
    assert why[first["dicom_id"]] == "several ED stays span the study time"
    assert why[second["dicom_id"]] == "no ED stay spans the study time"


def test_cleaning_catches_planted_artefacts(raw_copy):
    def plant(d):
        d.loc[d.index[:3], "temperature"] = [89.0, 37.2, 98.6]
        d.loc[d.index[3], "dbp"] = 280
        return d
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz", plant)
    log = load_mimic(raw_copy).cleaning
    assert {"outside 90-110", "value between 25 and 45 is Celsius", "outside 20-200"} <= set(log["reason"])


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_mimic(tmp_path / "nope")


def test_missing_file(raw_copy):
    (raw_copy / "mimic-iv-ed/ed/triage.csv.gz").unlink()
    with pytest.raises(InputError, match="Missing file triage.csv.gz"):
        load_mimic(raw_copy)


def test_missing_column(raw_copy):
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz", lambda d: d.drop(columns=["o2sat"]))
    with pytest.raises(InputError, match=r"triage.csv.gz: missing column\(s\) \['o2sat'\]"):
        load_mimic(raw_copy)


def test_wrong_type(raw_copy):
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz", lambda d: d.assign(heartrate="fast"))
    with pytest.raises(InputError, match="triage.csv.gz: column 'heartrate' should be numeric"):
        load_mimic(raw_copy)


def test_isolated_non_numbers_are_logged(raw_copy):
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz", lambda d: d.assign(heartrate=d["heartrate"].astype(object)).pipe(
        lambda x: x.assign(heartrate=["UTA" if i == 0 else v for i, v in enumerate(x["heartrate"])])))
    res = load_mimic(raw_copy)
    assert ((res.cleaning["column"] == "heartrate") & (res.cleaning["reason"] == "not a number")).sum() == 1


def test_empty_file(raw_copy):
    p = raw_copy / "mimic-iv/hosp/patients.csv.gz"
    with gzip.open(p, "wt") as f: f.write("")
    with pytest.raises(InputError, match="patients.csv.gz is empty"):
        load_mimic(raw_copy)


def test_duplicate_ids(raw_copy):
    _rewrite(raw_copy / "mimic-iv-ed/ed/edstays.csv.gz", lambda d: pd.concat([d, d.iloc[[0]]]))
    with pytest.raises(InputError, match="edstays.csv.gz: duplicate stay_id"):
        load_mimic(raw_copy)


def test_report_not_utf8(raw_copy):
    rep = next((raw_copy / "mimic-cxr/files").rglob("*.txt"))
    rep.write_bytes("FINAL REPORT\n IMPRESSION: \xe9panchement\n".encode("latin-1"))
    with pytest.raises(InputError, match=f"Report .*{rep.name} is not UTF-8"):
        load_mimic(raw_copy)


def test_wrong_unit(raw_copy):
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz",
             lambda d: d.assign(temperature=((d["temperature"] - 32) / 1.8).round(1)))
    with pytest.raises(InputError, match="temperature_unit='C'"):
        load_mimic(raw_copy)
    res = load_mimic(raw_copy, temperature_unit="C")
    assert abs(res.cohort["temperature"].median() - 98.2) < 0.3
    _rewrite(raw_copy / "mimic-iv-ed/ed/triage.csv.gz", lambda d: d.assign(o2sat=d["o2sat"] / 100))
    with pytest.raises(InputError, match="'o2sat' looks like a fraction"):
        load_mimic(raw_copy, temperature_unit="C")


def test_load_cohort_dispatch(raw799):
    assert len(load_cohort(raw799 / "cohort.parquet").cohort) == 799
    with pytest.raises(InputError, match="does not exist"):
        load_cohort(raw799 / "nothing.csv")
