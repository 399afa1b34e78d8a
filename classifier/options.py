"""Training choices that command lines show before any model code is imported (scikit-learn
takes seconds to load; `triage --help` should not wait for it)."""

# The estimators a head may use: LinearSVC inside calibration, or logistic regression.
CANDIDATES = ("svc", "logreg")
DEFAULT_SEED = 20261123
