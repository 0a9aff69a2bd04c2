"scikit-learn's estimator checks on `dallm.models.MultiLabelModel`, and its use where scikit-learn takes a classifier."
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.inspection import permutation_importance
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from dallm.config import InputError
from dallm.models import MultiLabelModel, failed_checks

ESTIMATORS = [MultiLabelModel("decision_tree"), MultiLabelModel("xgboost", n_jobs=1),
              MultiLabelModel("tabnet", tabnet_max_epochs=2, n_jobs=1), MultiLabelModel("random_forest", n_jobs=1)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(n_samples=240, n_features=6, n_classes=5, random_state=1)
    return X.astype(float), Y, np.arange(len(X)) // 3


def test_clone_and_params_round_trip(data):
    X, Y, g = data
    m = MultiLabelModel("random_forest", params="library", seed=3, augment="noise")
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "model_")
    c.fit(X, Y, g)
    assert c.n_features_in_ == X.shape[1] and len(c.classes_) == 5 and c.predict(X).shape == Y.shape


def test_pipeline_grouped_cv_and_permutation_importance(data):
    X, Y, g = data
    pipe = make_pipeline(StandardScaler(), MultiLabelModel("decision_tree"))
    auc = cross_val_score(pipe, X, Y, groups=g, cv=GroupKFold(3), scoring="roc_auc")
    assert auc.shape == (3,) and (auc > 0.55).all(), auc
    m = MultiLabelModel("random_forest").fit(X[:160], Y[:160, 2])
    pi = permutation_importance(m, X[160:], Y[160:, 2], scoring="roc_auc", n_repeats=3, random_state=0)
    assert pi.importances_mean.shape == (6,) and pi.importances_mean.max() > 0.01


def test_bad_parameters_reported_by_fit(data):
    X, Y, _ = data
    m = MultiLabelModel("svm")  # the constructor stores what it is given (clone and set_params rely on it)
    with pytest.raises(InputError, match="unknown model 'svm'"):
        m.fit(X, Y)
    with pytest.raises(InputError, match="params must be 'stated'"):
        MultiLabelModel(params="tuned").fit(X, Y)
    with pytest.raises(ValueError, match="Only binary classification"):
        MultiLabelModel("decision_tree").fit(X, np.arange(len(X)) % 3)


def test_hyperparameter_names_and_their_old_aliases(data):
    "'stated' (the paper's text) and 'library' (the defaults the authors' code ran); 'paper' and 'defaults' still read the same."
    X, Y, _ = data
    depth = lambda p: MultiLabelModel("decision_tree", params=p).fit(X, Y).model_.get_depth()
    assert depth("stated") == depth("paper") <= 10 < depth("library") == depth("defaults")   # the paper states max_depth 10
