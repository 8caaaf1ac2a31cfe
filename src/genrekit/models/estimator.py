"""The one declaration style of genrekit's own scikit-learn estimators.

They are dataclasses so that their parameters are written once: the generated ``__init__`` is
keyword-only and only stores its arguments (the scikit-learn contract, so ``get_params``, ``clone`` and
grid search work), and a subclass adds its own parameters and re-declares the defaults it changes.
``repr`` and ``eq`` stay scikit-learn's (an estimator compares by identity).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Class decorator of an estimator: ``@estimator class X(ClassifierMixin, BaseEstimator): a: int = 1``.
estimator = dataclass(kw_only=True, repr=False, eq=False)
