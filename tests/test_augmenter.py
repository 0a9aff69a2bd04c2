"""The Augmenter from code that imports dallm: a scikit-learn Pipeline under patient-grouped folds, with the real
offline model (SmolLM2 through llama.cpp) and the bundled knowledge corpus; no mock."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import Pipeline

from dallm.augmenter import Augmenter
from dallm.config import InputError
from dallm.llm import get_llm
from dallm.synth import synthesize


@pytest.fixture(scope="module")
def cohort():
    return synthesize(200, seed=1).tidy.head(18).set_index("reading_id")


@pytest.fixture(scope="module")
def llm(tmp_path_factory):  # one cache for the module: the second test's knowledge comes from the first's calls
    return get_llm("smollm2", cache=tmp_path_factory.mktemp("augmenter") / "calls.sqlite")


def test_pipeline_under_grouped_cv(cohort, llm):
    aug = Augmenter(llm=llm, lesions=("pleural_abnormality",), max_features=1, expert=False, sex_col="gender")
    pipe = Pipeline([("augment", aug), ("model", RandomForestClassifier(n_estimators=50, random_state=0))])
    y, groups = cohort["label_pleural_abnormality"], cohort["subject_id"]
    cv = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, cohort, y, groups=groups, cv=cv, scoring="roc_auc", error_score="raise")
    assert len(scores) == 3 and np.isfinite(scores).all()
    calls = llm.ledger.calls
    assert calls >= 7 + len(cohort)  # the ACK's seven questions, then one value call per reading at least
    again = cross_val_score(pipe, cohort, y, groups=groups, cv=cv, scoring="roc_auc", error_score="raise")
    assert llm.ledger.calls == calls and np.allclose(again, scores)  # every call of the second pass came from the cache
    fitted = clone(aug).fit(cohort)  # clone shares the model; fit never reads y
    assert [f.key for f in fitted.features_] == [f.key for f in pipe.fit(cohort, y)[0].features_]
    assert llm.ledger.calls == calls


def test_refits_nothing_given_ready_knowledge(cohort, llm):
    first = Augmenter(llm=llm, lesions=("pleural_abnormality",), max_features=1, expert=False, sex_col="gender").fit(cohort)
    n = llm.ledger.calls + llm.ledger.cache_hits
    ready = Augmenter(llm=llm, ack=first.ack_, features=first.features_, sex_col="gender").fit(cohort)
    assert llm.ledger.calls + llm.ledger.cache_hits == n  # nothing asked to fit
    back = pickle.loads(pickle.dumps(clone(ready).set_params(llm="smollm2").fit(cohort)))  # named by its model, it pickles
    assert back.get_params()["features"] == first.features_ and list(back.get_feature_names_out()) == [f.key for f in first.features_]


def test_bad_input_names_the_column(cohort):
    with pytest.raises(InputError, match="missing column"):
        Augmenter(ack="x", features=[]).fit(cohort)  # no 'sex' column: the default name
    with pytest.raises(InputError, match="no such file"):
        Augmenter(ack="nowhere/ack.json", sex_col="gender").fit(cohort)
