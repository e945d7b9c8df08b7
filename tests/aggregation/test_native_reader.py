"""The native answers reader (labeling/aggregation/native) against the pyarrow path: the same
codes, names and ``aggregate`` output on every file it handles, and exactly today's behaviour
(results or error messages) on every file it hands back to pyarrow."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.aggregation import encode, native
from labeling.aggregation.cli import CLIError, read_answer_table, read_answers, run_aggregate, run_agreement

from .datasets import DATA, NAMES, require_data

COLUMNS = ("item", "annotator", "label")


def _require_native() -> None:
    """Skip when the library is not built and no compiler could have built it; fail under
    CI=true or when a compiler exists (then `make install` should have built it)."""
    if native.library() is not None:
        return
    message = f"native reader not loaded: {native.problem()}"
    if os.environ.get("CI", "").lower() == "true" or shutil.which(os.environ.get("CC", "cc")):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def _native() -> None:
    _require_native()


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _both(path: Path):
    """(native, pyarrow) encodings of a file."""
    return encode(read_answer_table(path, native=True)), encode(read_answer_table(path, native=False))


def _assert_same(a, b) -> None:
    for field in ("items", "annotators", "labels"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype == np.int64
        np.testing.assert_array_equal(x, y)
    for column in COLUMNS:
        assert a.names_arrow(column).equals(b.names_arrow(column))
    assert (a.n_items, a.n_annotators, a.n_classes) == (b.n_items, b.n_annotators, b.n_classes)


def _csv(header: list[str], rows: list[list[str]], newline: str = "\n", final: bool = True) -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return (newline.join(lines) + (newline if final else "")).encode()


# -- the library is built and used ------------------------------------------------------------

def test_library_is_built_and_used(tmp_path: Path) -> None:
    _require_native()
    assert native.enabled() or os.environ.get(native.ENV, "").lower() in ("0", "false", "no", "off")
    path = _write(tmp_path / "a.csv", "item,annotator,label\nq1,a,cat\nq1,b,dog\nq2,a,cat\n")
    parsed = native.parse_file(path)
    assert parsed is not None
    assert [n.to_pylist() for n in parsed.names] == [["q1", "q2"], ["a", "b"], ["cat", "dog"]]
    assert [c.tolist() for c in parsed.codes] == [[0, 0, 1], [0, 1, 0], [0, 1, 0]]
    # the command's reader takes the native path (its table hands its codes to encode)
    table = read_answer_table(path, native=True)
    assert pa.types.is_dictionary(table.column("item").type)
    assert table.column("item").type.index_type == pa.int64()  # the pyarrow path's are int32
    enc = encode(table)
    assert enc.items.tolist() == [0, 0, 1] and enc.items.flags.writeable


def test_env_and_argument_force_the_pyarrow_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _require_native()
    path = _write(tmp_path / "a.csv", "item,annotator,label\nq1,a,cat\n")
    assert read_answer_table(path, native=False).column("item").type.index_type == pa.int32() or \
        pa.types.is_run_end_encoded(read_answer_table(path, native=False).column("item").type)
    monkeypatch.setenv(native.ENV, "0")
    assert not native.enabled()
    assert read_answer_table(path).column("item").type.index_type == pa.int32()
    monkeypatch.setenv(native.ENV, "1")
    assert native.enabled()
    assert read_answer_table(path).column("item").type.index_type == pa.int64()


def test_missing_stale_or_foreign_library_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.csv", "item,annotator,label\nq1,a,cat\nq2,b,dog\n")
    want = encode(read_answer_table(path, native=False))

    def reload(library: Path, source: Path) -> None:
        monkeypatch.setattr(native, "LIBRARY", library)
        monkeypatch.setattr(native, "SOURCE", source)
        monkeypatch.setattr(native, "_loaded", False)
        monkeypatch.setattr(native, "_library", None)

    reload(tmp_path / "missing.so", native.SOURCE)
    assert native.library() is None and "not built" in native.problem()
    _assert_same(encode(read_answer_table(path)), want)
    if native.SOURCE.is_file() and (native.SOURCE.parent / "_quorum_native.so").is_file():
        stale = tmp_path / "_quorum_native.so"
        shutil.copy(native.SOURCE.parent / "_quorum_native.so", stale)
        source = tmp_path / "quorum_native.c"
        source.write_text("/* newer */")
        os.utime(stale, (1, 1))
        reload(stale, source)
        assert native.library() is None and "older" in native.problem()
        _assert_same(encode(read_answer_table(path)), want)
        os.utime(stale, None)
        os.utime(source, (1, 1))
        monkeypatch.setattr(native, "ABI_VERSION", native.ABI_VERSION + 1000)
        reload(stale, source)
        assert native.library() is None and "ABI version" in native.problem()
        _assert_same(encode(read_answer_table(path)), want)


# -- same results on the files it handles -------------------------------------------------------

_name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters=',"\r\n')
_names = st.one_of(
    st.text(_name_chars, min_size=1, max_size=6),
    st.text(st.sampled_from("ab01é𝔸Ａ "), min_size=1, max_size=20),  # shared prefixes, > 16 bytes
    st.builds(lambda i: f"item{i:07d}", st.integers(0, 50)),
)


@st.composite
def answer_files(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(_names, min_size=1, max_size=12, unique=True))
    annotators = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    labels = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    n = draw(st.integers(1, 40))
    rows = [
        {"item": draw(st.sampled_from(items)), "annotator": draw(st.sampled_from(annotators)),
         "label": draw(st.sampled_from(labels))}
        for _ in range(n)
    ]
    order = draw(st.sampled_from(["as drawn", "sorted by item", "grouped, unsorted"]))
    if order == "sorted by item":
        rows.sort(key=lambda r: r["item"].encode())
    elif order == "grouped, unsorted":
        rank = {name: i for i, name in enumerate(draw(st.permutations(items)))}
        rows.sort(key=lambda r: rank[r["item"]])
    extra = draw(st.integers(0, 2))
    header = list(COLUMNS) + [f"x{i}" for i in range(extra)]
    header = draw(st.permutations(header))
    extra_values = st.text(_name_chars, max_size=4)  # may be empty: not an answer column
    table = [[row[h] if h in row else draw(extra_values) for h in header] for row in rows]
    return _csv(header, table, draw(st.sampled_from(["\n", "\r\n"])), final=draw(st.booleans()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=answer_files())
def test_random_files_same_codes(tmp_path: Path, data: bytes) -> None:
    _require_native()
    path = _write(tmp_path / "r.csv", data)
    assert native.parse_file(path) is not None  # handled natively
    _assert_same(*_both(path))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=answer_files(), method=st.sampled_from(["majority", "dawid_skene"]))
def test_random_files_same_aggregate_output(tmp_path: Path, data: bytes, method: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _require_native()
    path = _write(tmp_path / "r.csv", data)
    outputs = []
    for switch in ("1", "0"):
        monkeypatch.setenv(native.ENV, switch)
        out = tmp_path / f"out{switch}.csv"
        summary = run_aggregate(path, method, out, rule="adaptive:2/3")
        outputs.append((summary.pop("output"), out.read_bytes(), summary))
    assert outputs[0][1:] == outputs[1][1:]


def _big_rows(n_items: int, answers: int, rng: np.random.Generator) -> list[list[str]]:
    items = np.repeat(np.arange(n_items), answers)
    return [[f"item{i:07d}", f"w{a}", ("bird", "cat", "dog")[b]]
            for i, a, b in zip(items, rng.integers(0, 300, items.size), rng.integers(0, 3, items.size))]


@pytest.mark.parametrize("layout", ["sorted", "shuffled", "reversed"])
def test_large_files_same_codes(tmp_path: Path, layout: str, _native: None) -> None:
    # 40,000 items: the shuffled file's item table outgrows the size where lookups are queued
    rng = np.random.default_rng(3)
    rows = _big_rows(40_000, 3, rng)
    if layout == "shuffled":
        rows = [rows[i] for i in rng.permutation(len(rows))]
    elif layout == "reversed":  # grouped, items in descending order
        rows.reverse()
    path = _write(tmp_path / "big.csv", _csv(list(COLUMNS), rows))
    parsed = native.parse_file(path)
    # names of up to 16 bytes come back sorted whatever the row order (sorted in C)
    assert parsed is not None and parsed.in_order == (True, True, True)
    _assert_same(*_both(path))


def test_long_names_and_rows_that_get_shorter(tmp_path: Path, _native: None) -> None:
    # the first 64 KB have long rows (room is reserved from them), then many short ones: the
    # parse runs out of room and is done again with room for the shortest possible rows
    long_rows = [[f"{'x' * 200}{i:05d}", f"annotator-with-a-long-name-{i % 7}", "é" * 30] for i in range(400)]
    short_rows = [[str(i % 50), "a", "b"] for i in range(60_000)]
    path = _write(tmp_path / "mixed.csv", _csv(["label", "item", "annotator"], long_rows + short_rows))
    assert native.parse_file(path) is not None
    _assert_same(*_both(path))


def test_second_encode_of_the_same_table(tmp_path: Path, _native: None) -> None:
    path = _write(tmp_path / "a.csv", "item,annotator,label\nq2,b,dog\nq1,a,cat\nq2,a,cat\n")
    table = read_answer_table(path, native=True)
    first, second = encode(table), encode(table)  # codes handed over once, then read from the table
    _assert_same(first, second)
    _assert_same(first, encode(read_answer_table(path, native=False)))
    assert first.items is not second.items


def test_agreement_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _native: None) -> None:
    text = "item,annotator,label\n" + "".join(
        f"u{u},{c},{v}\n" for u, c, v in [(1, "a", 1), (1, "b", 2), (2, "a", 4), (2, "b", 4), (3, "a", 2), (3, "b", 3)]
    )
    path = _write(tmp_path / "n.csv", text)
    reports = []
    for switch in ("1", "0"):
        monkeypatch.setenv(native.ENV, switch)
        reports.append([run_agreement(path, level, n_boot=50) for level in ("nominal", "interval")])
    assert reports[0] == reports[1]


@pytest.mark.parametrize("name", NAMES)
def test_real_datasets_same_codes_and_output(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch,
                                             _native: None) -> None:
    require_data()
    path = DATA / name / "answers.csv"
    assert native.parse_file(path) is not None
    _assert_same(*_both(path))
    outputs = []
    for switch in ("1", "0"):
        monkeypatch.setenv(native.ENV, switch)
        out = tmp_path / f"{name}{switch}.csv"
        summary = run_aggregate(path, "majority", out)
        outputs.append((out.read_bytes(), {k: v for k, v in summary.items() if k != "output"}))
    assert outputs[0] == outputs[1]


# -- everything else goes to pyarrow, with today's behaviour -------------------------------------

GOOD = "item,annotator,label\nq1,a,cat\nq1,b,dog\nq2,a,cat\n"

FALLBACKS = {
    "quoted field": 'item,annotator,label\nq1,a,"cat"\nq2,b,dog\n',
    "quote inside a field": 'item,annotator,label\nq1,a,ca"t\nq2,b,dog\n',
    "quoted field with a comma": 'item,annotator,label\nq1,a,"c,at"\nq2,b,dog\n',
    "quoted header": '"item",annotator,label\nq1,a,cat\n',
    "byte order mark": "\ufeff" + GOOD,
    "bare carriage returns": GOOD.replace("\n", "\r"),
    "a bare carriage return inside a value": "item,annotator,label\nq1,a,c\rat\nq2,b,dog\n",
    "empty line": "item,annotator,label\nq1,a,cat\n\nq2,b,dog\n",
    "empty line at the end": GOOD + "\n",
    "empty CRLF line": "item,annotator,label\r\nq1,a,cat\r\n\r\nq2,b,dog\r\n",
    "more fields than the header": "item,annotator,label\nq1,a,cat,extra\n",
    "fewer fields than the header": "item,annotator,label\nq1,a\n",
    "empty item": "item,annotator,label\nq1,a,cat\n,b,dog\n",
    "empty annotator": "item,annotator,label\nq1,a,cat\nq1,,dog\n",
    "empty label at the end": "item,annotator,label\nq1,a,cat\nq1,b,",
    "invalid UTF-8 in a value": b"item,annotator,label\nq1,a,cat\nq2,bob,d\xffg\n",
    "invalid UTF-8 in another column": b"item,annotator,label,note\nq1,a,cat,\xc3(\nq2,b,dog,x\n",
    "surrogate in UTF-8": b"item,annotator,label\nq1,a,\xed\xa0\x80\n",
    "overlong UTF-8": b"item,annotator,label\nq1,a,\xc0\xaf\n",
    "truncated UTF-8 at the end": b"item,annotator,label\nq1,a,\xe2\x82",
    "missing column": "item,annotator\nq1,a\n",
    "column named twice": "item,annotator,label,label\nq1,a,cat,dog\n",
    "other column named twice": "item,annotator,label,x,x\nq1,a,cat,1,2\n",
    "empty header name": "item,annotator,label,\nq1,a,cat,\n",
    "header with spaces": "item, annotator,label\nq1,a,cat\n",
    "only a header": "item,annotator,label\n",
    "only a header without line end": "item,annotator,label",
    "no header line end but rows": "item,annotator,label\r",
    "empty file": "",
    "many columns": ",".join(["item", "annotator", "label"] + [f"c{i}" for i in range(70)]) + "\n"
                    + ",".join(["q1", "a", "cat"] + ["v"] * 70) + "\n",
}


def _outcome(path: Path, *, native_reader: bool):
    try:
        enc = encode(read_answer_table(path, native=native_reader))
    except CLIError as exc:
        return "error", str(exc)
    return "ok", (enc.items.tolist(), enc.annotators.tolist(), enc.labels.tolist(),
                  [enc.names_arrow(c).to_pylist() for c in COLUMNS])


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_fallbacks_behave_as_today(tmp_path: Path, case: str, _native: None) -> None:
    path = _write(tmp_path / "f.csv", FALLBACKS[case])
    if path.stat().st_size:
        assert native.parse_file(path) is None, "should be left to pyarrow"
    assert _outcome(path, native_reader=True) == _outcome(path, native_reader=False)


def test_fallback_errors_are_the_commands(tmp_path: Path, _native: None) -> None:
    cases = [
        ("empty CRLF line", None),
        ("empty annotator", "empty value in column 'annotator' at line 3"),
        ("invalid UTF-8 in a value", "line 3 is not valid UTF-8"),
        ("more fields than the header", "line 2 has 4 fields, the header has 3"),
        ("missing column", "missing column.* label"),
        ("only a header", "only a header"),
        ("empty file", "the file is empty"),
    ]
    for case, message in cases:
        path = _write(tmp_path / "e.csv", FALLBACKS[case])
        if message is None:
            read_answer_table(path)
            continue
        with pytest.raises(CLIError, match=message):
            read_answer_table(path)
        with pytest.raises(CLIError, match=message):
            read_answers(path)


def test_handled_edge_cases(tmp_path: Path, _native: None) -> None:
    cases = {
        "crlf": GOOD.replace("\n", "\r\n"),
        "no final line end": GOOD.rstrip("\n"),
        "crlf, no final line end": GOOD.replace("\n", "\r\n").rstrip("\r\n"),
        "reordered with extra columns": "note,label,when,annotator,item\n,cat,1,a,q1\nx,dog,,b,q1\n,cat,3,a,q2\n",
        "values that look missing": "item,annotator,label\nnull,a,NA\nnull,b,None\nN/A,c,nan\n",
        "spaces and non-ASCII": "item,annotator,label\n q1 ,Zoë,猫\nq1,Ａ,𝔸\n",
        "NUL bytes": "item,annotator,label\nq\x001,a,cat\nq\x00,a\x00,cat\n",
        "prefix names": "item,annotator,label\nab,a,c\na,ab,cat\nabc,a,ca\n",
    }
    for case, text in cases.items():
        path = _write(tmp_path / "h.csv", text)
        assert native.parse_file(path) is not None, case
        _assert_same(*_both(path))


# -- majority vote's native passes give the same bits -----------------------------------------

RESULT_FIELDS = ("labels", "confidence", "posteriors", "tied", "tie_level", "counts", "n_answers",
                 "accuracies", "confusions", "priors")


def _bits(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    return x.view(np.uint64) if x.dtype == np.float64 else x


def _votes(monkeypatch: pytest.MonkeyPatch, switch: str, *args, **kwargs):
    from labeling.aggregation import majority_vote

    monkeypatch.setenv(native.ENV, switch)
    try:
        return majority_vote(*args, **kwargs)
    except ValueError as exc:
        return f"ValueError: {exc}"


def _assert_same_votes(a, b) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    for field in RESULT_FIELDS:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.shape == y.shape, field
        np.testing.assert_array_equal(_bits(x), _bits(y), err_msg=field)


@st.composite
def vote_inputs(draw: st.DrawFn) -> dict:
    n_items = draw(st.integers(1, 12))
    n_annotators = draw(st.integers(1, 6))
    k = draw(st.integers(1, 6))
    n = draw(st.integers(0, 60))
    codes = {
        "items": draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n)),
        "annotators": draw(st.lists(st.integers(0, n_annotators - 1), min_size=n, max_size=n)),
        "labels": draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)),
    }
    if draw(st.booleans()):
        codes["items"].sort()  # grouped (the compressed-rows path of the NumPy form)
    return {"codes": {key: np.array(v, dtype=np.int64) for key, v in codes.items()}, "n_items": n_items,
            "n_annotators": n_annotators, "n_classes": k, "uniform_prior": draw(st.booleans())}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=vote_inputs())
def test_majority_vote_same_bits(d: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    _require_native()
    c = d["codes"]
    args = (c["items"], c["annotators"], c["labels"])
    kwargs = {key: d[key] for key in ("n_items", "n_annotators", "n_classes", "uniform_prior")}
    _assert_same_votes(_votes(monkeypatch, "1", *args, **kwargs), _votes(monkeypatch, "0", *args, **kwargs))


@pytest.mark.parametrize("layout", ["sorted", "shuffled"])
def test_majority_vote_same_bits_large(layout: str, monkeypatch: pytest.MonkeyPatch, _native: None) -> None:
    rng = np.random.default_rng(7)
    n_items, answers = 30_000, 5
    items = np.repeat(np.arange(n_items), answers)
    annotators = rng.integers(0, 400, items.size)
    labels = np.minimum(rng.geometric(0.5, items.size) - 1, 3)
    if layout == "shuffled":
        order = rng.permutation(items.size)
        items, annotators, labels = items[order], annotators[order], labels[order]
    kwargs = {"n_items": n_items + 3, "n_annotators": 400, "n_classes": 4}  # 3 items without answers
    a = _votes(monkeypatch, "1", items, annotators, labels, **kwargs)
    b = _votes(monkeypatch, "0", items, annotators, labels, **kwargs)
    assert not isinstance(a, str) and a.tied.sum() > 1000 and (a.tie_level == 1).any()
    _assert_same_votes(a, b)


BAD_VOTES = [
    ({"items": [0, 5], "annotators": [0, 0], "labels": [0, 1]}, {}),
    ({"items": [0, -1], "annotators": [0, 0], "labels": [0, 1]}, {}),
    ({"items": [0, 1], "annotators": [0, 9], "labels": [0, 1]}, {}),
    ({"items": [0, 1], "annotators": [0, 0], "labels": [0, 2]}, {}),
    ({"items": [0, 1], "annotators": [0, 0], "labels": [0]}, {}),
    ({"items": [0.0, 1.0], "annotators": [0, 0], "labels": [0, 1]}, {}),
    ({"items": [[0, 1]], "annotators": [0, 0], "labels": [0, 1]}, {}),
    ({"items": [0, 1], "annotators": [0, 0], "labels": [0, 1]}, {"n_classes": 0}),
    ({"items": [0, 1], "annotators": [0, 0], "labels": [0, 1]}, {"gold": np.array([0, 5])}),
    ({"items": np.array([0, 1], dtype=np.int32), "annotators": np.array([0, 0], dtype=np.uint8),
      "labels": [1, 1]}, {}),
]


@pytest.mark.parametrize(("codes", "options"), BAD_VOTES)
def test_majority_vote_same_errors(codes: dict, options: dict, monkeypatch: pytest.MonkeyPatch,
                                   _native: None) -> None:
    kwargs = {"n_items": 2, "n_annotators": 1, "n_classes": 2, **options}
    args = (codes["items"], codes["annotators"], codes["labels"])
    _assert_same_votes(_votes(monkeypatch, "1", *args, **kwargs), _votes(monkeypatch, "0", *args, **kwargs))


# -- names sorted in C (session 5): every shape of name, shuffled rows -----------------------------

def _shuffled_file(tmp_path: Path, names: list[str], rng: np.random.Generator, answers: int = 3) -> Path:
    rows = [[name, f"w{rng.integers(0, 40)}", ("bird", "cat", "dog")[rng.integers(0, 3)]]
            for name in names for _ in range(answers)]
    rows = [rows[i] for i in rng.permutation(len(rows))]
    return _write(tmp_path / "s.csv", _csv(list(COLUMNS), rows))


def _random_names(rng: np.random.Generator, n: int, alphabet: str, lengths: tuple[int, int]) -> list[str]:
    # Python strings picked by index (NumPy's str_ would drop trailing NUL characters)
    names = {"".join(alphabet[i] for i in rng.integers(0, len(alphabet), int(rng.integers(*lengths))))
             for _ in range(n)}
    return sorted(names)


NAME_SHAPES = {
    # a shared prefix, few bits differ (packed keys, two radix passes)
    "item numbers": lambda rng: [f"item{i:07d}" for i in range(30_000)],
    "numbers of varying length": lambda rng: [str(i) for i in rng.choice(10**7, 20_000, replace=False)],
    # every byte differs (over 64 bits of key: a pass per byte)
    "random 16 bytes": lambda rng: _random_names(rng, 20_000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", (16, 17)),
    "random 1-16 bytes": lambda rng: _random_names(rng, 20_000, "ab0\x00 ~", (1, 17)),
    "prefixes of each other": lambda rng: ["a" * i for i in range(1, 17)] + ["a" * i + "\x00" for i in range(1, 16)]
                                           + ["b", "ab", "ba", "\x00", "\x00a"],
    "non-ASCII": lambda rng: _random_names(rng, 5_000, "éü猫𝔸Ａz", (1, 5)),
    # over 16 bytes: sorted by Python (Arrow) as before
    "17 bytes and longer": lambda rng: _random_names(rng, 5_000, "abc", (15, 40)),
    "uuids": lambda rng: [str(__import__("uuid").UUID(int=int(x))) for x in rng.integers(0, 2**62, 5_000)],
}


@pytest.mark.parametrize("shape", sorted(NAME_SHAPES))
def test_shuffled_names_sorted_like_pyarrow(tmp_path: Path, shape: str, _native: None) -> None:
    rng = np.random.default_rng(11)
    names = NAME_SHAPES[shape](rng)
    path = _shuffled_file(tmp_path, names, rng)
    parsed = native.parse_file(path)
    assert parsed is not None
    longest = max(len(name.encode()) for name in names)
    assert parsed.in_order[0] == (longest <= 16)  # over 16 bytes: left to Python's sort
    assert parsed.names[0].to_pylist() == sorted(set(names), key=str.encode) or longest > 16
    _assert_same(*_both(path))


@pytest.mark.parametrize("column", COLUMNS)
def test_each_column_sorted_in_c(tmp_path: Path, column: str, _native: None) -> None:
    # many distinct names in the annotator or label column too, in random order
    rng = np.random.default_rng(5)
    values = {c: [f"{c[0]}{rng.integers(0, 9) if c != column else rng.integers(0, 5000)}" for _ in range(20_000)]
              for c in COLUMNS}
    rows = [[values[c][j] for c in COLUMNS] for j in range(20_000)]
    path = _write(tmp_path / "c.csv", _csv(list(COLUMNS), rows))
    parsed = native.parse_file(path)
    assert parsed is not None and all(parsed.in_order)
    _assert_same(*_both(path))


# -- majority vote's packed passes and the label gather (session 5, part 2) ------------------------

def _spy(monkeypatch: pytest.MonkeyPatch, names: list[str]) -> dict[str, int]:
    """Count the calls of the library's functions `names` (ctypes functions are attributes)."""
    lib, calls = native.library(), {}
    for name in names:
        function = getattr(lib, name)

        def counted(*args, _name=name, _function=function):
            calls[_name] = calls.get(_name, 0) + 1
            return _function(*args)

        monkeypatch.setattr(lib, name, counted)
    return calls


@pytest.mark.parametrize(("n_items", "n_annotators", "k", "packed"), [
    (30_000, 400, 3, True),          # 15 + 11 bits: packed records
    (2**16, 2**15, 2, True),         # 16 + 16 bits: all 32 used
    (2**16 + 1, 2**15, 2, False),    # 17 + 16 bits: the three code arrays, as before
    ((1 << 20) + 1, 5_000, 3, False),  # 21 + 14 bits: the three code arrays, as before
])
def test_majority_vote_packed_or_not_same_bits(n_items: int, n_annotators: int, k: int, packed: bool,
                                               monkeypatch: pytest.MonkeyPatch, _native: None) -> None:
    rng = np.random.default_rng(n_items)
    n = 60_000
    items = rng.integers(0, min(n_items, 200_000), n)
    items[:2] = n_items - 1, 0  # the highest item code
    annotators = rng.integers(0, n_annotators, n)
    annotators[0] = n_annotators - 1
    labels = rng.integers(0, k, n)
    kwargs = {"n_items": n_items, "n_annotators": n_annotators, "n_classes": k}
    calls = _spy(monkeypatch, ["qn_vote_pass", "qn_vote_pass_packed", "qn_share_sums_packed", "qn_weight_sums_packed",
                               "qn_share_sums", "qn_weight_sums"])
    a = _votes(monkeypatch, "1", items, annotators, labels, **kwargs)
    assert set(calls) == ({"qn_vote_pass_packed", "qn_share_sums_packed", "qn_weight_sums_packed"} if packed
                          else {"qn_vote_pass", "qn_share_sums", "qn_weight_sums"})
    b = _votes(monkeypatch, "0", items, annotators, labels, **kwargs)
    _assert_same_votes(a, b)


def test_record_shift() -> None:
    from labeling.aggregation.majority import _record_shift

    assert _record_shift(100_000, 500, 3) == 17
    assert _record_shift(1, 1, 1) == 0 and _record_shift(0, 0, 1) == 0
    assert _record_shift(2**16, 2**15, 2) == 16 and _record_shift(2**16 + 1, 2**15, 2) is None
    assert _record_shift(2**31, 1, 1) == 31 and _record_shift(2**31 + 1, 1, 1) is None  # never shift 32
    assert _record_shift(1, 2**32, 1) == 0 and _record_shift(1, 2**32 + 1, 1) is None


@pytest.mark.parametrize("bad", ["item", "annotator", "label"])
def test_packed_pass_rejects_codes_out_of_range(bad: str, monkeypatch: pytest.MonkeyPatch, _native: None) -> None:
    codes = {"items": [0, 1, 1], "annotators": [0, 1, 0], "labels": [0, 1, 2]}
    codes[bad + "s"][2] = {"item": 2, "annotator": 2, "label": 3}[bad]
    kwargs = {"n_items": 2, "n_annotators": 2, "n_classes": 3}
    args = [np.array(codes[c], dtype=np.int64) for c in ("items", "annotators", "labels")]
    calls = _spy(monkeypatch, ["qn_vote_pass_packed"])
    a = _votes(monkeypatch, "1", *args, **kwargs)
    assert calls == {"qn_vote_pass_packed": 1} and isinstance(a, str)
    assert a == _votes(monkeypatch, "0", *args, **kwargs)


def _take_cases() -> dict[str, tuple[pa.Array, np.ndarray]]:
    rng = np.random.default_rng(3)
    labels = pa.array(["bird", "cat", "dog"])
    many = pa.array([f"name{i}" * (1 + i % 5) for i in range(5_000)])  # over 4096 names, some over 16 bytes
    return {
        "labels": (labels, rng.integers(0, 3, 100_000)),
        "long and empty names": (pa.array(["", "a" * 40, "b", "é猫" * 7]), rng.integers(0, 4, 1_000)),
        "only empty names": (pa.array(["", ""]), rng.integers(0, 2, 50)),
        "over 4096 names": (many, rng.integers(0, 5_000, 20_000)),
        "sliced array": (many.slice(1_000, 40), rng.integers(0, 40, 3_000)),
        "no codes": (labels, np.zeros(0, dtype=np.int64)),
        "non-contiguous codes": (labels, rng.integers(0, 3, 2_000)[::2]),
    }


@pytest.mark.parametrize("case", sorted(_take_cases()))
def test_take_strings_like_arrow(case: str, _native: None) -> None:
    names, codes = _take_cases()[case]
    taken = native.take_strings(names, codes)
    assert taken is not None
    taken.validate(full=True)
    assert taken.equals(names.take(pa.array(codes)))


@pytest.mark.parametrize("codes", [np.array([0, 3]), np.array([-1, 0]), np.array([0, 1], dtype=np.int32),
                                   np.array([[0, 1]])])
def test_take_strings_leaves_the_rest_to_arrow(codes: np.ndarray, _native: None) -> None:
    names = pa.array(["bird", "cat", "dog"])
    assert native.take_strings(names, codes) is None
    assert native.take_strings(pa.array(["a", None]), np.array([0])) is None  # nulls
    assert native.take_strings(pa.array(["a"], type=pa.large_string()), np.array([0])) is None


def test_names_of_same_output_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _native: None) -> None:
    enc = encode(read_answer_table(_write(tmp_path / "a.csv", "item,annotator,label\ni1,w1,cat\ni2,w1,dog\n")))
    for codes in (np.array([1, 0, 1]), [1, 0], np.array([0, 1], dtype=np.int8)):
        for switch in ("1", "0"):
            monkeypatch.setenv(native.ENV, switch)
            assert enc.names_of("label", codes).equals(enc.names_arrow("label").take(pa.array(codes)))
    errors = []
    for switch in ("1", "0"):
        monkeypatch.setenv(native.ENV, switch)
        with pytest.raises(pa.ArrowException) as info:
            enc.names_of("label", np.array([0, 2]))
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
