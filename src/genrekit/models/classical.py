"""scikit-learn pipelines for the classical model families, with defaults and search grids.

Every model is a scikit-learn estimator with ``predict_proba`` and ``classes_``. XGBoost is wrapped so
that it takes string labels and persists its booster as XGBoost JSON inside the state (no pickle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from genrekit.errors import ModelError
from genrekit.models.estimator import estimator

CLASSICAL_KINDS: tuple[str, ...] = ("knn", "logreg", "rf", "svm", "xgboost", "mlp")
#: RBF width of the default SVM (see :func:`make_model`).
SVM_GAMMA = 0.001


@estimator
class XGBoostClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (XGBoost ``hist``) with string labels and optional PCA in front.

    Parameters
    ----------
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, reg_lambda, min_child_weight
        Passed to :class:`xgboost.XGBClassifier`.
    pca_components : int, float or None
        Components (or explained-variance fraction) of a PCA fitted first; ``None`` for none.
    random_state : int
    n_jobs : int
    """

    n_estimators: int = 300
    max_depth: int = 6
    learning_rate: float = 0.1
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    pca_components: int | float | None = None
    random_state: int = 0
    n_jobs: int = 1

    def _xgb_params(self) -> dict[str, Any]:
        """The keywords of :class:`xgboost.XGBClassifier`: every parameter but ``pca_components``."""
        params = self.get_params()
        del params["pca_components"]
        return {**params, "tree_method": "hist"}

    def fit(self, X: np.ndarray, y: np.ndarray) -> XGBoostClassifier:
        """Fit on ``X`` (n, d) and labels ``y`` (n,)."""
        import xgboost as xgb

        X = np.asarray(X, dtype=np.float32)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if self.pca_components is not None:
            self.pca_ = PCA(n_components=self.pca_components, random_state=self.random_state).fit(X)
            X = self.pca_.transform(X)
        else:
            self.pca_ = None
        objective = "multi:softprob" if len(self.classes_) > 2 else "binary:logistic"
        model = xgb.XGBClassifier(objective=objective, **self._xgb_params())
        model.fit(X, enc.transform(y))
        self.booster_ = model.get_booster()
        self.n_features_in_ = X.shape[1] if self.pca_ is None else self.pca_.n_features_in_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes)."""
        import xgboost as xgb

        check_is_fitted(self, "booster_")
        X = np.asarray(X, dtype=np.float32)
        if self.pca_ is not None:
            X = self.pca_.transform(X)
        p = self.booster_.predict(xgb.DMatrix(X))
        if p.ndim == 1:
            p = np.stack([1 - p, p], axis=1)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # The booster is stored as XGBoost's own JSON, so persistence (skops) never pickles it.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "booster_" in state:
            state["booster_"] = bytes(state["booster_"].save_raw(raw_format="json")).decode("utf-8")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import xgboost as xgb

        state = dict(state)
        if isinstance(state.get("booster_"), str):
            booster = xgb.Booster()
            booster.load_model(bytearray(state["booster_"].encode("utf-8")))
            state["booster_"] = booster
        self.__dict__.update(state)


def make_model(kind: str, *, random_state: int = 0, n_jobs: int = 1, **params: Any) -> BaseEstimator:
    """Build an unfitted classical model with sensible defaults.

    Parameters
    ----------
    kind : {"knn", "logreg", "rf", "svm", "xgboost", "mlp"}
    random_state : int
    n_jobs : int
    **params
        Overrides in scikit-learn ``set_params`` form (``clf__C=3``) or plain names of the final
        estimator (``C=3``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Scaler/transform steps then a step named ``clf``.
    """
    if kind == "knn":
        steps = [
            ("scale", StandardScaler()),
            ("clf", KNeighborsClassifier(n_neighbors=7, weights="distance")),
        ]
    elif kind == "logreg":
        steps = [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=1.0, max_iter=3000, random_state=random_state)),
        ]
    elif kind == "rf":
        steps = [
            (
                "clf",
                RandomForestClassifier(
                    n_estimators=300, min_samples_leaf=1, n_jobs=n_jobs, random_state=random_state
                ),
            ),
        ]
    elif kind == "svm":
        steps = [
            ("scale", StandardScaler()),
            # Platt scaling fitted on held-out folds (what SVC(probability=True) did, which sklearn 1.9
            # deprecates); one SVC refitted on all the data serves the predictions. A wide kernel
            # (gamma 0.001 on standardised features; "scale" would be 1/218 for the default 218
            # hand-crafted columns): few training tracks, many correlated columns, and on real music
            # (docs/benchmarks.md, "Real music") the smoother boundary won in both artist-disjoint folds.
            (
                "clf",
                CalibratedClassifierCV(
                    SVC(C=10.0, kernel="rbf", gamma=SVM_GAMMA), method="sigmoid", cv=3, ensemble=False
                ),
            ),
        ]
    elif kind == "xgboost":
        steps = [
            ("scale", StandardScaler()),
            ("clf", XGBoostClassifier(random_state=random_state, n_jobs=n_jobs)),
        ]
    elif kind == "mlp":
        steps = [
            ("scale", StandardScaler()),
            (
                "clf",
                MLPClassifier(
                    hidden_layer_sizes=(256, 128),
                    alpha=1e-3,
                    early_stopping=True,
                    n_iter_no_change=15,
                    max_iter=400,
                    random_state=random_state,
                ),
            ),
        ]
    else:
        from genrekit.errors import unknown_name

        raise unknown_name("model", kind, CLASSICAL_KINDS)
    pipe = Pipeline(steps)
    if params:
        prefix = "clf__estimator__" if kind == "svm" else "clf__"
        named = {k if "__" in k else f"{prefix}{k}": v for k, v in params.items()}
        try:
            pipe.set_params(**named)
        except ValueError as exc:
            raise ModelError(f"bad parameter for model {kind!r}: {exc}") from None
    return pipe


def param_grid(kind: str) -> dict[str, list[Any]]:
    """The grid searched by ``--search`` for ``kind`` (keys in ``Pipeline.set_params`` form)."""
    grids: dict[str, dict[str, list[Any]]] = {
        "knn": {"clf__n_neighbors": [3, 7, 15, 31], "clf__weights": ["uniform", "distance"]},
        "logreg": {"clf__C": [0.01, 0.1, 1.0, 10.0]},
        "rf": {
            "clf__n_estimators": [300],
            "clf__max_features": ["sqrt", 0.3],
            "clf__min_samples_leaf": [1, 3],
        },
        "svm": {"clf__estimator__C": [1.0, 10.0, 100.0], "clf__estimator__gamma": ["scale", 0.001, 0.0003]},
        "xgboost": {
            "clf__max_depth": [3, 6],
            "clf__learning_rate": [0.05, 0.1],
            "clf__pca_components": [None, 0.95],
        },
        "mlp": {"clf__hidden_layer_sizes": [(256, 128), (512,)], "clf__alpha": [1e-4, 1e-2]},
    }
    if kind not in grids:
        from genrekit.errors import unknown_name

        raise unknown_name("model", kind, CLASSICAL_KINDS)
    return grids[kind]
