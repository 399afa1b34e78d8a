"""The complaint classifier and field extraction, pure and loaded once per process.

Entry points:

- `classifier.predict.Classifier` — ``Classifier.load(model_dir)``, then
  ``predict(subject, body, thresholds=None) -> Prediction`` and
  ``predict_many(rows)``: kind, category, department and severity, each with a
  probability, top-3 candidates, the words behind it and ``needs_review``.
- `classifier.extract.extract_fields(subject, body, display_name=None) -> Fields`
  — name, phones, order numbers, amounts, asks, the object complained about.
- `classifier.signals.detect(text)` — explicit severity signals (media,
  lawsuit, regulator, group, repeat, large compensation, safety).
- `classifier.train.train(rows) -> TrainResult` and `classifier.store.save()` —
  training and immutable model versions (``python -m classifier.train``).
- `classifier.evaluate` — metrics and a report for a saved model on a data
  file (``python -m classifier.evaluate``).
"""
