"""Benchmark: this engine vs crowd-kit on synthetic answers with known truth.

    .venv/bin/python bench/aggregation.py [--skip-big] [--items 100000] [--seed 0] [--repeat 3]
                                          [--shuffle] [--methods majority,one_coin,dawid_skene]

Generates ``--items`` items x 5 answers (3 classes; annotators of uneven quality, including
random and constant spammers; annotator activity skewed), writes them to a CSV of string labels
under bench/out/, then for each pair measures the wall time from reading that CSV to the decided
labels, in the same process (best of ``--repeat`` interleaved runs per side, default 3):

    majority    vs crowd-kit MajorityVote()
    one_coin    vs crowd-kit OneCoinDawidSkene(n_iter=100)
    dawid_skene vs crowd-kit DawidSkene(n_iter=100)

Both sides start from the same file and end with a pandas Series of label strings indexed by
item name (pandas' ``str`` dtype on both sides). Ours reads it the way the ``aggregate`` command
does (``read_answer_table``: the native reader of ``labeling/aggregation/native`` when it is
built, which parses and codes the three columns in one pass in C, else the pyarrow path; set
``QUORUM_NATIVE=0`` to time the pyarrow path, which also turns off majority vote's C passes);
crowd-kit gets what a crowd-kit user would write, the fastest
pandas reader (``pd.read_csv(dtype=str, engine="pyarrow")``), then ``fit_predict``. "read" is the
reader call, "fit" everything after it (ours: turning the columns into sorted integer codes, the
method, the output Series; crowd-kit: ``fit_predict``); since our reader already does part of the
encoding, compare the totals. The generated rows are grouped by item (each item's answers
together, items in name order), which lets our reader run-end encode the items and our encoder
skip sorting the item names; --shuffle writes them in random order instead (then the 100,000
item names are hashed and sorted).
Peak memory is measured in child processes (peak RSS above the interpreter's RSS after
imports) at 1x and 10x the answers, to show it grows linearly. With --skip-big, the
10x run (5,000,000 answers by default) is skipped. The last line prints the key ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.aggregation import aggregate, encode, native  # noqa: E402
from labeling.aggregation.cli import read_answer_table  # noqa: E402

LABELS = np.array(["bird", "cat", "dog"])
ANSWERS_PER_ITEM = 5


def generate(n_items: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Synthetic answers (strings) and the truth per item."""
    rng = np.random.default_rng(seed)
    k = len(LABELS)
    n_annotators = max(50, n_items // 200)
    truth = rng.choice(k, size=n_items, p=[0.5, 0.3, 0.2])
    # confusion matrices: 55% good, 25% mediocre, 10% random spammers, 10% constant spammers
    kind = rng.choice(4, size=n_annotators, p=[0.55, 0.25, 0.10, 0.10])
    acc = np.where(kind == 0, rng.uniform(0.75, 0.95, n_annotators), rng.uniform(0.45, 0.7, n_annotators))
    conf = np.empty((n_annotators, k, k))
    for t in range(k):
        off = rng.dirichlet(np.ones(k - 1), size=n_annotators) * (1.0 - acc)[:, None]
        conf[:, t, :] = np.insert(off, t, acc, axis=1)
    conf[kind == 2] = 1.0 / k
    constant = np.flatnonzero(kind == 3)
    conf[constant] = 0.0
    conf[constant, :, rng.integers(0, k, constant.size)] = 1.0
    activity = rng.pareto(1.5, n_annotators) + 1.0
    items = np.repeat(np.arange(n_items), ANSWERS_PER_ITEM)
    annotators = rng.choice(n_annotators, size=items.size, p=activity / activity.sum())
    cum = conf[annotators, truth[items]].cumsum(axis=1)
    labels = (rng.random(items.size)[:, None] > cum).sum(axis=1).clip(max=k - 1)
    item_names = np.char.add("item", np.char.zfill(np.arange(n_items).astype(str), 7))
    answers = pd.DataFrame(
        {
            "item": item_names[items],
            "annotator": np.char.add("w", annotators.astype(str)),
            "label": LABELS[labels],
        }
    )
    return answers, pd.Series(LABELS[truth], index=item_names)


def ours(path: Path, method: str) -> tuple[pd.Series, float, float]:
    """(labels by item name, read seconds, fit seconds) for this engine."""
    t0 = time.perf_counter()
    table = read_answer_table(path)
    t1 = time.perf_counter()
    enc = encode(table)
    result = aggregate(method, **enc.arrays())
    # the same form as crowd-kit's answer: pandas string (``str``) values and index, Arrow-backed
    labels = pd.Series(
        pd.array(enc.names_of("label", result.labels), dtype="str"),
        index=pd.Index(pd.array(enc.names_arrow("item"), dtype="str")),
    )
    t2 = time.perf_counter()
    return labels, t1 - t0, t2 - t1


def crowdkit(path: Path, method: str) -> tuple[pd.Series, float, float]:
    """(labels by item name, read seconds, fit seconds) for crowd-kit."""
    from crowdkit.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene

    model = {
        "majority": MajorityVote(),
        "one_coin": OneCoinDawidSkene(n_iter=100),
        "dawid_skene": DawidSkene(n_iter=100),
    }[method]
    t0 = time.perf_counter()
    df = pd.read_csv(path, dtype=str, engine="pyarrow").rename(columns={"item": "task", "annotator": "worker"})
    t1 = time.perf_counter()
    labels = model.fit_predict(df)
    t2 = time.perf_counter()
    return labels, t1 - t0, t2 - t1


def accuracy(labels: pd.Series, truth: pd.Series) -> float:
    return float((labels.reindex(truth.index).to_numpy() == truth.to_numpy()).mean())


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status in KiB (Linux). VmHWM, unlike ru_maxrss, is not
    inherited from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child_peak(path: Path, method: str) -> None:
    """Run in a child: print '<peak RSS MiB above the RSS after imports> <seconds>'."""
    base = _status_kib("VmRSS")
    t0 = time.perf_counter()
    ours(path, method)
    elapsed = time.perf_counter() - t0
    print(f"{(_status_kib('VmHWM') - base) / 1024:.1f} {elapsed:.3f}")


def measure_child(path: Path, method: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--method", method],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def write_csv(n_items: int, seed: int, out_dir: Path, shuffle: bool = False) -> tuple[Path, pd.Series]:
    answers, truth = generate(n_items, seed)
    if shuffle:  # rows in random order instead of grouped by item
        answers = answers.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    path = out_dir / f"answers_{len(answers)}{'_shuffled' if shuffle else ''}.csv"
    answers.to_csv(path, index=False)
    return path, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-big", action="store_true", help="skip the 10x (5M answers) run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side (best is kept)")
    parser.add_argument("--shuffle", action="store_true", help="write the answers in random row order "
                        "(default: grouped by item, in item order)")
    parser.add_argument("--methods", default="majority,one_coin,dawid_skene",
                        help="comma-separated subset of majority, one_coin, dawid_skene")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--method", default="dawid_skene", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_peak(args.child, args.method)
        return

    args.out.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[0]} (2 cores)")
    print("native reader and vote passes: " + ("on" if native.enabled() else f"off ({native.problem() or native.ENV + '=0'})"))
    path, truth = write_csv(args.items, args.seed, args.out, args.shuffle)
    n_answers = args.items * ANSWERS_PER_ITEM
    order = "random row order" if args.shuffle else "rows grouped by item"
    print(f"{n_answers:,} answers on {args.items:,} items, 3 classes, {order}; "
          f"CSV {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"{'method':<12} {'side':<10} {'acc':>7} {'read s':>7} {'fit s':>8} {'total s':>8}")
    ratios: dict[str, tuple[float, float, float]] = {}
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for method in methods:
        ours(path, method)  # warm-up (imports, page cache)
        runs_ours, runs_theirs = [], []
        for _ in range(args.repeat):  # interleaved; best of --repeat for each side
            runs_ours.append(ours(path, method))
            runs_theirs.append(crowdkit(path, method))
        mine, r1, f1 = min(runs_ours, key=lambda run: run[1] + run[2])
        theirs, r2, f2 = min(runs_theirs, key=lambda run: run[1] + run[2])
        a1, a2 = accuracy(mine, truth), accuracy(theirs, truth)
        print(f"{method:<12} {'ours':<10} {a1:7.4f} {r1:7.3f} {f1:8.3f} {r1 + f1:8.3f}")
        print(f"{'':<12} {'crowd-kit':<10} {a2:7.4f} {r2:7.3f} {f2:8.3f} {r2 + f2:8.3f}")
        total_ratio, fit_ratio = (r2 + f2) / (r1 + f1), f2 / f1
        print(f"{'':<12} ratio: {total_ratio:.1f}x read-to-labels, {fit_ratio:.1f}x after reading; "
              f"accuracy difference {100 * (a1 - a2):+.2f} points")
        ratios[method] = (total_ratio, fit_ratio, 100 * (a1 - a2))

    mem1, sec1 = measure_child(path, "dawid_skene")
    print(f"peak memory, dawid_skene read-to-labels, {n_answers:,} answers: {mem1:.0f} MB above baseline ({sec1:.2f} s)")
    if not args.skip_big:
        big_path, big_truth = write_csv(args.items * 10, args.seed + 1, args.out, args.shuffle)
        for method in methods:
            mine, r, f = ours(big_path, method)
            print(f"{10 * n_answers:,} answers, {method:<12} ours: {r + f:6.2f} s (read {r:.2f}, fit {f:.2f}), "
                  f"accuracy {accuracy(mine, big_truth):.4f}")
        mem10, sec10 = measure_child(big_path, "dawid_skene")
        print(f"peak memory, dawid_skene read-to-labels, {10 * n_answers:,} answers: {mem10:.0f} MB above baseline "
              f"({sec10:.2f} s); memory ratio 10x answers: {mem10 / mem1:.1f}x")
    print(f"load average at end: {Path('/proc/loadavg').read_text().split()[0]}")
    print(
        "KEY RATIOS (crowd-kit time / ours, read-to-labels | after reading; accuracy diff in points): "
        + "; ".join(f"{m} {t:.1f}x | {f:.1f}x ({d:+.2f})" for m, (t, f, d) in ratios.items())
    )


if __name__ == "__main__":
    main()
