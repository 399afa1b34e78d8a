"""Classifier benchmark: batch throughput and cold start on one core, training time.

    .venv/bin/python bench/classify.py [--model DIR] [--data PATH...] [--messages 5000]
                                       [--train-rows 50000] [--train-cores N]
                                       [--estimator auto|svc|logreg] [--json]

- batch: `Classifier.predict_many` over the corpus, repeated to at least
  ``--messages`` messages (target >= 1,000 messages/s);
- cold start: a fresh Python process, pinned to the same core, that imports the
  classifier, loads the model and jieba's dictionary and makes its first
  prediction; the whole process's wall time, the median of three (target < 2 s);
- training: `classifier.train.train` on the corpus rows repeated with small
  perturbations (sentences shuffled, one sometimes dropped, digits changed) to
  ``--train-rows`` rows (target < 60 s), on ``--train-cores`` cores (default:
  every core the process may use; training tokenises, fits the vectoriser's
  blocks and the heads in that many processes). Its CPU time includes the
  worker processes'.

The corpus is ``classifier/data/corpus`` (the shipped model's 11,110 rows) unless
``--data`` names other files. The process pins itself to one CPU core (and one BLAS
thread, set before NumPy loads) for everything but training.
"""

from __future__ import annotations

import os

# One BLAS / OpenMP thread, set before NumPy is imported anywhere.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier import dataset, text  # noqa: E402
from classifier.predict import Classifier  # noqa: E402
from classifier.train import TrainResult, train  # noqa: E402

CORPUS = ROOT / "classifier" / "data" / "corpus"
SHIPPED_MODEL = ROOT / "classifier" / "model"
TARGET_PER_SECOND = 1000
TARGET_COLD_SECONDS = 2.0
TARGET_TRAIN_SECONDS = 60.0
CORE = 0

COLD_START = """
import time
began = time.perf_counter()
from classifier import store, text
from classifier.predict import Classifier
imported = time.perf_counter()
model, meta = store.load({model!r})
loaded = time.perf_counter()
text.warm_up()
warmed = time.perf_counter()
Classifier(model, meta).predict("回收员称重少了三公斤", "上门回收的师傅称重缺斤短两，电话13800138000。")
done = time.perf_counter()
print(imported - began, loaded - imported, warmed - loaded, done - warmed)
"""
COLD_PARTS = ("imports", "model file", "jieba + OpenCC", "first prediction")

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*\n?")
_DIGIT = re.compile(r"\d")


def pin_to_one_core() -> int:
    available = sorted(os.sched_getaffinity(0))
    core = CORE if CORE in available else available[0]
    os.sched_setaffinity(0, {core})
    return core


@dataclass
class Timing:
    """Wall and CPU seconds: on a shared machine the CPU time is what one quiet core would take."""

    wall: float = 0.0
    cpu: float = 0.0

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


@contextmanager
def timed(children: bool = False) -> Iterator[Timing]:
    """Times the block; `children` counts the CPU time of subprocesses instead of our own."""
    timing = Timing()
    wall, cpu = time.perf_counter(), _cpu(children)
    yield timing
    timing.wall, timing.cpu = time.perf_counter() - wall, _cpu(children) - cpu


def _cpu(children: bool) -> float:
    if not children:
        return time.process_time()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch_throughput(classifier: Classifier, rows: list[dict], at_least: int) -> tuple[int, Timing]:
    pairs = [(row.get("subject") or "", row.get("body") or "") for row in rows]
    classifier.predict_many(pairs[:50])  # first-call costs are the cold start's, not the batch's
    repeats = -(-at_least // len(pairs))
    with timed() as timing:
        for _ in range(repeats):
            classifier.predict_many(pairs)
    return repeats * len(pairs), timing


def cold_start(model: Path, core: int, runs: int = 3) -> tuple[Timing, list[float]]:
    """Whole fresh processes (interpreter start included): the run with the median wall time,
    and the median split of its time inside Python (see COLD_PARTS)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = COLD_START.format(model=str(model))
    timings, parts = [], []
    for _ in range(runs):
        with timed(children=True) as timing:
            done = subprocess.run(["taskset", "-c", str(core), sys.executable, "-c", script], env=env,
                                  check=True, capture_output=True, text=True, cwd=ROOT)
        timings.append(timing)
        parts.append([float(value) for value in done.stdout.split()])
    median = sorted(timings, key=lambda t: t.wall)[runs // 2]
    return median, [statistics.median(column) for column in zip(*parts, strict=True)]


def training(rows: list[dict], estimator: str, cores: set[int]) -> tuple[TrainResult, Timing]:
    """`train` on `cores`, timed; the CPU time counts the worker processes, which are
    shut down (and so reaped) inside the timing."""
    from joblib.externals.loky import get_reusable_executor

    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        with timed(children=True) as workers, timed() as own:
            result = train(rows, model=estimator)
            get_reusable_executor().shutdown(wait=True)
    finally:
        os.sched_setaffinity(0, pinned)
    return result, Timing(own.wall, own.cpu + workers.cpu)


def perturbed(rows: list[dict], count: int, seed: int = 7) -> list[dict]:
    """`count` rows: the corpus again and again, each copy a little different from the others."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        row = rows[index % len(rows)]
        sentences = _SENTENCE.findall(row.get("body") or "") or [row.get("body") or ""]
        rng.shuffle(sentences)
        if len(sentences) > 2 and rng.random() < 0.3:
            sentences.pop(rng.randrange(len(sentences)))
        body = _DIGIT.sub(lambda _: str(rng.randrange(10)), "".join(sentences))
        # Copies keep their original id: a held-out message is held out in every copy.
        out.append({**row, "body": body})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--data", type=Path, nargs="+", default=[CORPUS],
                        help="the corpus: .jsonl / .csv files or directories (default: the shipped corpus)")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--train-cores", type=int, default=None,
                        help="cores for training (default: every core the process may use)")
    parser.add_argument("--estimator", choices=("auto", "svc", "logreg"), default="auto",
                        help="the heads' model for the training figure (auto, the default of "
                             "`triage model train`: see classifier.heads.choose)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)

    cores = sorted(os.sched_getaffinity(0))[: args.train_cores]
    core = pin_to_one_core()
    rows = dataset.read_rows(args.data)
    print(f"one core (cpu {core}), corpus {len(rows)} rows, model {args.model}", flush=True)

    cold, parts = cold_start(args.model, core)
    split = ", ".join(f"{name} {seconds:.2f}" for name, seconds in zip(COLD_PARTS, parts, strict=True))
    print(f"cold start: {cold} (fresh process, median of 3; inside Python: {split})  "
          f"target < {TARGET_COLD_SECONDS:.0f} s: {_verdict(cold, lambda s: s < TARGET_COLD_SECONDS)}",
          flush=True)

    text.warm_up()
    classifier = Classifier.load(args.model)
    messages, batch = batch_throughput(classifier, rows, args.messages)
    print(f"batch: {messages / batch.wall:,.0f} messages/s wall, {messages / batch.cpu:,.0f} per "
          f"CPU-second ({messages} messages, {batch})  target >= {TARGET_PER_SECOND:,}/s: "
          f"{_verdict(batch, lambda s: messages / s >= TARGET_PER_SECOND)}", flush=True)

    training_rows = perturbed(rows, args.train_rows)
    result, trained = training(training_rows, args.estimator, set(cores))
    f1 = " ".join(f"{head}={m['macro_f1']:.3f}" for head, m in result.metrics["heads"].items())
    chosen = ",".join(choice["model"] for choice in result.meta["models"].values())
    data = result.meta["data"]
    print(f"training: {trained} on {len(training_rows):,} messages, {len(cores)} core(s) "
          f"(cpu {','.join(map(str, cores))}; {args.estimator}: {chosen}; "
          f"{data['train_rows']:,} fitted, {data['holdout_rows']:,} held out and evaluated, "
          f"macro-F1 {f1})  target < {TARGET_TRAIN_SECONDS:.0f} s: "
          f"{_verdict(trained, lambda s: s < TARGET_TRAIN_SECONDS)}", flush=True)

    if args.json:
        print(json.dumps({
            "core": core, "load_average": os.getloadavg()[0],
            "batch": {"messages": messages, **asdict(batch)},
            "cold_start": {**asdict(cold), **dict(zip(COLD_PARTS, parts, strict=True))},
            "training": {"rows": len(training_rows), "estimator": args.estimator, "cores": cores,
                         **asdict(trained)},
        }))
    return 0


def _verdict(timing: Timing, within: Callable[[float], bool]) -> str:
    """Met or not by wall time, and by CPU time (what a quiet core would give)."""
    def word(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return f"{word(within(timing.wall))} (wall), {word(within(timing.cpu))} (CPU)"


if __name__ == "__main__":
    raise SystemExit(main())
