"""Native fast path of the answers reader (and of majority vote's passes over the answers, and
of gathering names by code, :func:`take_strings`):
``quorum_native.c``, compiled by ``make install`` (the
Makefile's ``native`` rule) into ``_quorum_native.so`` next to it (git-ignored) and loaded with
ctypes.

It parses a whole CSV in one pass and codes the item, annotator and label fields (see the C
file); :func:`labeling.aggregation.cli.read_answer_table` uses it when it can and otherwise reads
with pyarrow, which produces the same codes and every user-facing error. Nothing here is needed
for correctness: without a compiler, with a missing or stale library (older than its source, or
built for another ABI version), or with ``QUORUM_NATIVE=0`` in the environment, :func:`library`
is None and the pyarrow path runs.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

#: Must equal QN_ABI_VERSION in quorum_native.c.
ABI_VERSION = 6
SOURCE = Path(__file__).with_name("quorum_native.c")
LIBRARY = Path(__file__).with_name("_quorum_native.so")
#: ``QUORUM_NATIVE=0`` (or false/no/off) forces the pyarrow path.
ENV = "QUORUM_NATIVE"

_PADDING = 80  # QN_PADDING
_INFO_SIZE = 12
_OK = 0
_FULL = 3  # QN_FULL

_library: ctypes.CDLL | None = None
_loaded = False
_problem = ""

_i64p = ctypes.POINTER(ctypes.c_int64)


def _load() -> ctypes.CDLL | None:
    global _problem
    if not LIBRARY.is_file():
        _problem = f"{LIBRARY} not built (make install)"
        return None
    if SOURCE.is_file() and SOURCE.stat().st_mtime > LIBRARY.stat().st_mtime:
        _problem = f"{LIBRARY} is older than {SOURCE.name} (make install)"
        return None
    try:
        lib = ctypes.CDLL(str(LIBRARY))
        lib.qn_abi_version.restype = ctypes.c_int
        version = lib.qn_abi_version()
    except (OSError, AttributeError) as exc:
        _problem = f"{LIBRARY}: {exc}"
        return None
    if version != ABI_VERSION:
        _problem = f"{LIBRARY} has ABI version {version}, expected {ABI_VERSION} (make install)"
        return None
    lib.qn_parse.restype = ctypes.c_int
    lib.qn_parse.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.qn_names.restype = None
    lib.qn_names.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    lib.qn_free.restype = None
    lib.qn_free.argtypes = [ctypes.c_void_p]
    lib.qn_remap.restype = None
    lib.qn_remap.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    p, n = ctypes.c_void_p, ctypes.c_int64
    for name, args, result in [
        ("qn_vote_pass", [p, p, n, n, n, p, p, p, p, p, p], ctypes.c_int),
        ("qn_share_sums", [p, p, p, n, n, n, p, p], ctypes.c_int),
        ("qn_weight_sums", [p, p, p, n, n, n, p, p], None),
        ("qn_break_ties", [p, p, p, n, n, p, p, p, p], None),
        ("qn_softmax_shift", [p, n, n, p], None),
        ("qn_softmax_finish", [p, n, n, p, p], None),
        ("qn_vote_pass_packed", [p, p, p, n, n, n, n, p, p, p, p, p, p, p, n], ctypes.c_int),
        ("qn_share_sums_packed", [p, n, n, n, n, p, p], None),
        ("qn_weight_sums_packed", [p, n, n, n, n, p, p], None),
        ("qn_take_offsets", [p, n, p, n, p], ctypes.c_int64),
        ("qn_take_bytes", [p, p, n, p, n, p, p], None),
    ]:
        function = getattr(lib, name)
        function.restype = result
        function.argtypes = args
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded native library, or None (not built, stale, or loading failed; see
    :func:`problem`). Loaded once per process."""
    global _library, _loaded
    if not _loaded:
        _library, _loaded = _load(), True
    return _library


def problem() -> str:
    """Why :func:`library` is None ("" when it loaded)."""
    library()
    return _problem


def enabled() -> bool:
    """True when the native code is to be used: built, loadable, and not switched off with
    ``QUORUM_NATIVE=0``."""
    return active() is not None


def active() -> ctypes.CDLL | None:
    """The library when it is to be used (see :func:`enabled`), else None."""
    if os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    return library()


@dataclass(frozen=True)
class ParsedAnswers:
    """Per column (item, annotator, label): int64 codes per row, the distinct names in code
    order, and whether that order already is the sorted one (names seen in increasing order, or
    sorted by the C code: every column whose names are all of at most 16 bytes); otherwise the
    codes follow the names' first appearance and the caller sorts them."""

    codes: tuple[np.ndarray, np.ndarray, np.ndarray]
    names: tuple[pa.Array, pa.Array, pa.Array]
    in_order: tuple[bool, bool, bool]


def _pooled(size: int, dtype: type) -> np.ndarray:
    """An uninitialised writable array from Arrow's memory pool, which keeps freed pages mapped:
    a process that reads repeatedly does not page-fault on every fresh multi-megabyte array (see
    :func:`labeling.aggregation.majority._pooled`)."""
    dt = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(max(size, 1) * dt.itemsize), dtype=dt, count=size)


def _read_padded(path: Path) -> np.ndarray | None:
    """The file's bytes followed by the parser's padding ('\n', then zeros); None if the file
    changed size while read."""
    size = path.stat().st_size
    buf = _pooled(size + _PADDING, np.uint8)
    view = memoryview(buf)
    done = 0
    with path.open("rb", buffering=0) as handle:
        while done < size:
            got = handle.readinto(view[done:size])
            if not got:
                return None
            done += got
        if handle.read(1):
            return None
    buf[size:] = 0
    buf[size] = ord("\n")
    return buf


#: Rows allowed for at first: the rows of the first _SAMPLE bytes, scaled to the file, plus
#: _ROW_SLACK; a file with shorter rows further on is parsed again with room for size // 6 + 1
#: rows (a row takes at least 6 bytes, "a,b,c\n").
_SAMPLE = 1 << 16
_ROW_SLACK = 1.25


def _parse(lib: ctypes.CDLL, buf: np.ndarray, size: int, max_rows: int) -> tuple[int, np.ndarray, list, ctypes.c_void_p]:
    codes = [_pooled(max_rows, np.int64) for _ in range(3)]
    info = np.zeros(_INFO_SIZE, dtype=np.int64)
    handle = ctypes.c_void_p()
    status = lib.qn_parse(buf.ctypes.data, size, max_rows, codes[0].ctypes.data, codes[1].ctypes.data,
                          codes[2].ctypes.data, info.ctypes.data, ctypes.byref(handle))
    return status, info, codes, handle


def parse_file(path: str | Path) -> ParsedAnswers | None:
    """Parse an answers CSV natively, or None when the native library is missing or the file is
    anything but the simple case (then read it with pyarrow, which also names every error)."""
    lib = library()
    if lib is None:
        return None
    buf = _read_padded(Path(path))
    if buf is None:
        return None
    size = buf.size - _PADDING
    head = buf[:min(size, _SAMPLE)]
    lines = int(np.count_nonzero(head == 10))
    max_rows = size // 6 + 1
    if size > _SAMPLE and lines > 1:
        max_rows = min(max_rows, int(size / _SAMPLE * lines * _ROW_SLACK) + 1024)
    status, info, codes, handle = _parse(lib, buf, size, max_rows)
    if status == _FULL:
        status, info, codes, handle = _parse(lib, buf, size, size // 6 + 1)
    del buf
    if status != _OK:
        return None
    try:
        rows = int(info[1])
        names = []
        for column in range(3):
            count, nbytes = int(info[2 + column]), int(info[5 + column])
            offsets = np.empty(count + 1, dtype=np.int32)
            data = np.empty(max(nbytes, 1), dtype=np.uint8)
            lib.qn_names(handle, column, offsets.ctypes.data, data.ctypes.data)
            names.append(pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]))
    finally:
        lib.qn_free(handle)
    return ParsedAnswers(
        codes=tuple(c[:rows] for c in codes),  # type: ignore[arg-type]
        names=tuple(names),  # type: ignore[arg-type]
        in_order=tuple(bool(info[8 + column]) for column in range(3)),  # type: ignore[arg-type]
    )


def remap(codes: np.ndarray, rank: np.ndarray) -> None:
    """``codes[:] = rank[codes]`` in place (int64 arrays; every code a valid index of rank)."""
    lib = library()
    assert lib is not None and codes.dtype == np.int64 and rank.dtype == np.int64
    assert codes.flags.c_contiguous and rank.flags.c_contiguous and codes.flags.writeable
    lib.qn_remap(codes.ctypes.data, codes.size, rank.ctypes.data)


def take_strings(names: pa.Array, codes: np.ndarray) -> pa.Array | None:
    """``names.take(codes)`` for an Arrow string array without nulls and int64 codes, gathered in
    C into buffers from Arrow's pool; None (use Arrow's take, which also names any error) when the
    library is off or missing, the input is anything else, a code is out of range or the result
    would pass 2 GB."""
    lib = active()
    if (lib is None or not isinstance(names, pa.StringArray) or names.null_count or not isinstance(codes, np.ndarray)
            or codes.dtype != np.int64 or codes.ndim != 1):
        return None
    codes = np.ascontiguousarray(codes)
    _, offsets_buffer, data_buffer = names.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(names) + 1, offset=4 * names.offset)
    n = codes.size
    out_offsets = _pooled(n + 1, np.int32)
    total = lib.qn_take_offsets(offsets.ctypes.data, len(names), codes.ctypes.data, n, out_offsets.ctypes.data)
    if total < 0:
        return None
    out_data = pa.allocate_buffer(total + 16)  # 16 bytes of room for whole-slot copies
    data_address = data_buffer.address if data_buffer is not None else 0
    if total:
        lib.qn_take_bytes(offsets.ctypes.data, data_address, len(names), codes.ctypes.data, n,
                          out_offsets.ctypes.data, out_data.address)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(out_offsets), out_data])
