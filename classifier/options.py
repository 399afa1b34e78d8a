"""Training choices that command lines show before any model code is imported (scikit-learn
takes seconds to load; `triage --help` should not wait for it)."""

# The estimators a head may use: LinearSVC inside calibration, or logistic regression.
CANDIDATES = ("svc", "logreg")
DEFAULT_SEED = 20261123
# The share of rows held out (by id) by default: training never sees them, evaluation reads them.
HOLDOUT_FRACTION = 0.2
