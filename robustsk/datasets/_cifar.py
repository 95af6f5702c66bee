"""Reading CIFAR-10 and CIFAR-100 (the python pickle batches) from a local folder.

The batches are Python 2 pickles. A pickle is a program: loading one with :mod:`pickle`
calls whatever it names, and even numpy's own reconstruction, fed a crafted dtype state
or an array's ``strides``, builds arrays that crash the interpreter or claim gigabytes.
So the batches are not unpickled: :func:`read_cifar_batch` parses the pickle's opcodes
itself and accepts only the shape a batch has (one dict with str or bytes keys, whose
values are strings, integers, flat lists of those, and at most one uint8 array spelled
the way numpy writes a plain C-ordered uint8 array). Nothing in the file is called or
imported; every size it declares is checked against the bytes it holds before anything
is allocated, and what it builds is bounded by a multiple of its size. Anything else is
a ``ValueError`` naming the file.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options
from ._checks import check_file_labels

_CIFAR10 = {
    "folder": "cifar-10-batches-py",
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
    "meta": "batches.meta",
    "classes": {"labels": 10},
}
_CIFAR100 = {
    "folder": "cifar-100-python",
    "train": ("train",),
    "test": ("test",),
    "meta": "meta",
    "classes": {"fine_labels": 100, "coarse_labels": 20},
}


class _Name:
    """A global a batch may name. It stands for the name only: nothing is imported."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_RECONSTRUCT = _Name("numpy's _reconstruct")
_NDARRAY = _Name("numpy.ndarray")
_DTYPE = _Name("numpy.dtype")
_ENCODE = _Name("_codecs.encode")
_FROMBUFFER = _Name("numpy's _frombuffer")

#: The globals a CIFAR batch may name (Python 2's and 3's numpy spell them differently).
_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTYPE,
    ("_codecs", "encode"): _ENCODE,  # bytes as Python 3 writes them at protocol 2
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,  # arrays at protocol 5
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
}

#: The state ``numpy.dtype("u1")`` pickles with: version 3, no byte order, no subarray,
#: no fields, its own size and alignment (-1), no flags. Any other state is refused.
_UINT8_STATES = {
    (3, "|", None, None, None, -1, -1, 0),
    (4, "|", None, None, None, -1, -1, 0, None),
}


class _UInt8:
    """``numpy.dtype("u1")`` as the batch spells it (its state is checked by BUILD)."""

    __slots__ = ("built",)

    def __init__(self) -> None:
        self.built = False


class _Array:
    """The batch's uint8 array: ``_reconstruct`` makes it empty and BUILD fills it."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray | None = None) -> None:
        self.array = array


class _Span:
    """A long byte string of the file, not copied until it is used."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view

    def __len__(self) -> int:
        return len(self.view)


#: Byte strings longer than this stay views of the file (:class:`_Span`) until used.
_SHORT = 4096
_SCALARS = (int, bytes, str, _Span, type(None))
_MAX_MARKS = 32
_MAX_NDIM = 4


class _BatchReader:
    """Parses one pickled CIFAR batch opcode by opcode (see the module docstring).

    ``spent`` counts, generously, the memory of every object built (never given back when
    one is dropped); past ``16 x`` the file's size plus 1 MiB the file is refused, so no
    sequence of opcodes can make it allocate much more than the file holds.
    """

    def __init__(self, raw: bytes, path: str) -> None:
        self.raw, self.view, self.path = raw, memoryview(raw), path
        self.pos = 0
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.spent, self.budget = 0, 16 * len(raw) + (1 << 20)
        self.n_dicts = self.n_arrays = 0

    # -- helpers ------------------------------------------------------------------------

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{self.path} is not a CIFAR python batch: {why}.")

    def spend(self, n: int) -> None:
        self.spent += n
        if self.spent > self.budget:
            raise self.fail(
                f"its opcodes build more than {self.budget} bytes of objects from "
                f"{len(self.raw)} bytes of file"
            )

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > len(self.raw) - self.pos:
            raise self.fail(
                f"it is truncated ({what} at byte {self.pos} declares {n} bytes, "
                f"{len(self.raw) - self.pos} remain)"
            )
        out = self.view[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def push(self, obj: Any, cost: int = 8) -> None:
        self.spend(cost)
        self.stack.append(obj)

    def pop(self) -> Any:
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.fail(f"an opcode at byte {self.pos - 1} takes from an empty stack")
        return self.stack.pop()

    def top(self) -> Any:
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.fail(f"an opcode at byte {self.pos - 1} takes from an empty stack")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.fail(f"an opcode at byte {self.pos - 1} needs a MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def string(self, n: int, what: str) -> bytes | _Span:
        view = self.take(n, what)
        if n <= _SHORT:
            self.spend(48 + n)
            return bytes(view)
        self.spend(256)
        return _Span(view)

    def text(self, n: int, what: str) -> str:
        view = self.take(n, what)
        self.spend(80 + 4 * n)
        try:
            return str(view, "utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise self.fail(f"{what} at byte {self.pos - n} is not UTF-8") from None

    def line(self) -> str:
        end = self.raw.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            raise self.fail(f"the global name at byte {self.pos} is not a short text line")
        raw = self.raw[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"the global name at byte {self.pos} is not ASCII") from None

    def find_global(self, module: Any, name: Any) -> None:
        name_ = _GLOBALS.get((module, name)) if isinstance(module, str) else None
        if name_ is None or not isinstance(name, str):
            raise ValueError(
                f"{self.path}: refusing to load {module}.{name}: a CIFAR batch names only "
                "numpy's array reconstruction (the file is not a CIFAR batch, or was "
                "tampered with)."
            )
        self.push(name_)

    def scalar(self, item: Any, where: str) -> Any:
        if isinstance(item, bool) or not isinstance(item, _SCALARS):
            raise self.fail(f"{where} holds a {type(item).__name__}, not a string or an integer")
        return item

    # -- what numpy's reconstruction may do ---------------------------------------------

    def reduce(self, func: Any, args: Any) -> Any:
        if not isinstance(args, tuple):
            raise self.fail(f"REDUCE at byte {self.pos - 1} has arguments that are not a tuple")
        if func is _DTYPE:
            flags_ok = all(isinstance(a, (bool, int)) and a in (0, 1) for a in args[1:])
            if len(args) > 3 or not args or args[0] not in ("u1", b"u1") or not flags_ok:
                raise self.fail(
                    f"it asks for numpy.dtype{args!r}; a batch's only dtype is uint8 ('u1')"
                )
            return _UInt8()
        if func is _RECONSTRUCT:
            if len(args) != 3 or args[0] is not _NDARRAY or args[1] != (0,):
                raise self.fail("its _reconstruct call is not numpy's own for a plain ndarray")
            if args[2] not in ("b", b"b"):
                raise self.fail("its _reconstruct call is not numpy's own for a plain ndarray")
            return self.new_array()
        if func is _ENCODE:
            latin1 = len(args) == 2 and args[1] in ("latin1", "latin-1", b"latin1")
            if latin1 and isinstance(args[0], bytes):
                return args[0]  # a Python 2 str, which this reader keeps as bytes
            if not latin1 or not isinstance(args[0], str):
                raise self.fail("its _codecs.encode call does not encode a str as latin1")
            try:
                out = args[0].encode("latin1")
            except UnicodeEncodeError:
                raise self.fail("a byte string it encodes is not latin1") from None
            self.spend(48 + len(out))
            return out
        if func is _FROMBUFFER:
            if len(args) != 4 or args[3] != "C":
                raise self.fail("its _frombuffer call is not numpy's own for a C-ordered array")
            array = self.new_array()
            self.fill(array, args[2], args[1], args[0])
            return array
        what = func.name if isinstance(func, _Name) else type(func).__name__
        raise self.fail(f"it calls {what}; a batch calls only numpy's array reconstruction")

    def new_array(self) -> _Array:
        self.n_arrays += 1
        if self.n_arrays > 1:
            raise self.fail("it builds more than one array (a batch has one: 'data')")
        self.spend(256)
        return _Array()

    def fill(self, array: _Array, shape: Any, dtype: Any, raw: Any) -> None:
        """Make ``array`` the uint8 array of ``shape`` holding exactly the bytes ``raw``."""
        if not isinstance(dtype, _UInt8):
            raise self.fail("its array's dtype is not numpy's uint8")
        if (
            not isinstance(shape, tuple)
            or not 1 <= len(shape) <= _MAX_NDIM
            or not all(type(d) is int and d >= 0 for d in shape)
        ):
            raise self.fail(f"its array's shape {shape!r} is not 1 to 4 sizes")
        if isinstance(raw, _Span):
            raw = raw.view
        elif not isinstance(raw, bytes):
            raise self.fail(f"its array's data is a {type(raw).__name__}, not a byte string")
        count = math.prod(shape)
        if count != len(raw):
            raise self.fail(
                f"its array declares shape {shape} ({count} bytes) but holds {len(raw)} bytes"
            )
        self.spend(256 + count)
        array.array = np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()

    def build(self, state: Any, obj: Any) -> None:
        if isinstance(obj, _UInt8):
            plain = isinstance(state, tuple) and len(state) > 1
            if plain:
                endian = state[1].decode("latin1") if isinstance(state[1], bytes) else state[1]
                plain = (state[0], endian, *state[2:]) in _UINT8_STATES
            if obj.built or not plain:
                raise self.fail(
                    f"it sets numpy.dtype('u1') to the state {state!r}; only uint8's own "
                    "state is accepted (no flags, sizes, subarrays or fields)"
                )
            obj.built = True
        elif isinstance(obj, _Array) and obj.array is None:
            if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
                state = state[1:]
            if not isinstance(state, tuple) or len(state) != 4:
                raise self.fail("its array's state is not numpy's (shape, dtype, order, data)")
            shape, dtype, fortran, raw = state
            if fortran not in (False, 0):
                raise self.fail("its array is Fortran-ordered; a batch's is C-ordered")
            self.fill(obj, shape, dtype, raw)
        else:
            raise self.fail(f"it sets the state of a {type(obj).__name__}")

    # -- the opcodes --------------------------------------------------------------------

    def read(self) -> dict[Any, Any]:
        raw = self.raw
        if raw[:1] == b"\x80":  # PROTO, at the start only
            if len(raw) < 2 or not 2 <= raw[1] <= 5:
                raise self.fail("it does not start as a pickle of protocol 2 to 5")
            self.pos = 2
        while True:
            if self.pos >= len(raw):
                raise self.fail("it is truncated (it ends before its STOP opcode)")
            op = raw[self.pos]
            self.pos += 1
            if op == 0x2E:  # STOP
                break
            handler = _OPCODES.get(op)
            if handler is None:
                raise self.fail(
                    f"opcode {bytes([op])!r} at byte {self.pos - 1} is not one a batch uses"
                )
            handler(self)
        if self.pos != len(raw):
            raise self.fail(f"{len(raw) - self.pos} bytes follow the pickle's end")
        if self.marks or len(self.stack) != 1 or not isinstance(self.stack[0], dict):
            raise self.fail("it does not hold exactly one dict")
        return self.stack[0]


def _op(code: bytes):
    def register(func):
        _OPCODES[code[0]] = func
        return func

    return register


_OPCODES: dict[int, Any] = {}


@_op(b"\x95")  # FRAME: a length hint only
def _frame(r: _BatchReader) -> None:
    n = r.unpack("<Q", "a FRAME")
    if n > len(r.raw) - r.pos:
        raise r.fail(f"a FRAME at byte {r.pos - 9} declares {n} bytes, {len(r.raw) - r.pos} remain")


@_op(b"(")  # MARK
def _mark(r: _BatchReader) -> None:
    if len(r.marks) >= _MAX_MARKS:
        raise r.fail("it nests more than 32 MARKs")
    r.spend(40)
    r.marks.append(len(r.stack))


@_op(b"}")  # EMPTY_DICT
def _empty_dict(r: _BatchReader) -> None:
    r.n_dicts += 1
    if r.n_dicts > 1:
        raise r.fail("it builds more than one dict (a batch is one dict)")
    r.push({}, 256)


@_op(b"]")  # EMPTY_LIST
def _empty_list(r: _BatchReader) -> None:
    r.push([], 96)


@_op(b"l")  # LIST
def _list(r: _BatchReader) -> None:
    items = r.pop_mark()
    r.push([r.scalar(v, "a list") for v in items], 96 + 8 * len(items))


@_op(b")")  # EMPTY_TUPLE
def _empty_tuple(r: _BatchReader) -> None:
    r.push(())


def _tuple_of(r: _BatchReader, items: list[Any]) -> None:
    for item in items:
        if isinstance(item, (dict, list)):
            raise r.fail("a tuple holds a dict or a list")
    r.push(tuple(items), 48 + 8 * len(items))


@_op(b"t")  # TUPLE
def _tuple(r: _BatchReader) -> None:
    _tuple_of(r, r.pop_mark())


def _tuple_n(n: int):
    def handler(r: _BatchReader) -> None:
        items = [r.pop() for _ in range(n)][::-1]
        _tuple_of(r, items)

    return handler


_OPCODES[0x85], _OPCODES[0x86], _OPCODES[0x87] = _tuple_n(1), _tuple_n(2), _tuple_n(3)


def _append_to(r: _BatchReader, items: list[Any]) -> None:
    target = r.top()
    if not isinstance(target, list):
        raise r.fail(f"it appends to a {type(target).__name__}")
    r.spend(8 * len(items))
    target.extend(r.scalar(v, "a list") for v in items)


@_op(b"a")  # APPEND
def _append(r: _BatchReader) -> None:
    item = r.pop()
    _append_to(r, [item])


@_op(b"e")  # APPENDS
def _appends(r: _BatchReader) -> None:
    _append_to(r, r.pop_mark())


def _set_in(r: _BatchReader, items: list[Any]) -> None:
    target = r.top()
    if not isinstance(target, dict) or len(items) % 2:
        raise r.fail("it sets items of something that is not the batch's dict")
    r.spend(128 * (len(items) // 2))
    for key, value in zip(items[::2], items[1::2]):
        if not isinstance(key, (bytes, str)):
            raise r.fail(f"a key is a {type(key).__name__}, not a string")
        text = key.decode("latin1") if isinstance(key, bytes) else key
        if text in target:
            raise r.fail(f"the key {text!r} appears twice")
        if isinstance(value, _Array):
            if value.array is None:
                raise r.fail(f"the array of {text!r} has no state")
        elif isinstance(value, list):
            pass  # its items were checked as they were appended
        else:
            r.scalar(value, f"the value of {text!r}")
        target[text] = value


@_op(b"s")  # SETITEM
def _setitem(r: _BatchReader) -> None:
    value = r.pop()
    key = r.pop()
    _set_in(r, [key, value])


@_op(b"u")  # SETITEMS
def _setitems(r: _BatchReader) -> None:
    _set_in(r, r.pop_mark())


@_op(b"d")  # DICT
def _dict(r: _BatchReader) -> None:
    items = r.pop_mark()
    _empty_dict(r)
    _set_in(r, items)


def _memo_put(r: _BatchReader, index: int) -> None:
    r.spend(128)
    r.memo[index] = r.top()


def _memo_get(r: _BatchReader, index: int) -> None:
    if index not in r.memo:
        raise r.fail(f"it refers to memo entry {index}, which it never stored")
    r.push(r.memo[index])


_OPCODES[ord("q")] = lambda r: _memo_put(r, r.unpack("<B", "BINPUT"))
_OPCODES[ord("r")] = lambda r: _memo_put(r, r.unpack("<I", "LONG_BINPUT"))
_OPCODES[0x94] = lambda r: _memo_put(r, len(r.memo))  # MEMOIZE
_OPCODES[ord("h")] = lambda r: _memo_get(r, r.unpack("<B", "BINGET"))
_OPCODES[ord("j")] = lambda r: _memo_get(r, r.unpack("<I", "LONG_BINGET"))
_OPCODES[ord("K")] = lambda r: r.push(r.unpack("<B", "BININT1"))
_OPCODES[ord("M")] = lambda r: r.push(r.unpack("<H", "BININT2"), 40)
_OPCODES[ord("J")] = lambda r: r.push(r.unpack("<i", "BININT"), 40)
_OPCODES[ord("N")] = lambda r: r.push(None)


@_op(b"I")  # INT: protocol 1's booleans ("I00", "I01") and small integers
def _int(r: _BatchReader) -> None:
    text = r.line()
    if text in ("00", "01"):
        r.push(text == "01")
    elif text.lstrip("-").isdigit() and len(text) <= 20:
        r.push(int(text), 40)
    else:
        raise r.fail(f"INT at byte {r.pos - len(text) - 2} is not an integer")


_OPCODES[0x88] = lambda r: r.push(True)  # NEWTRUE
_OPCODES[0x89] = lambda r: r.push(False)  # NEWFALSE


@_op(b"\x8a")  # LONG1
def _long1(r: _BatchReader) -> None:
    n = r.unpack("<B", "LONG1")
    if n > 8:
        raise r.fail(f"an integer at byte {r.pos - 2} has {n} bytes (more than 64 bits)")
    r.push(int.from_bytes(r.take(n, "LONG1"), "little", signed=True), 40)


def _string_op(fmt: str, what: str, unicode: bool = False):
    def handler(r: _BatchReader) -> None:
        n = r.unpack(fmt, what)
        r.push(r.text(n, what) if unicode else r.string(n, what), 0)

    return handler


_OPCODES[ord("U")] = _string_op("<B", "SHORT_BINSTRING")
_OPCODES[ord("T")] = _string_op("<i", "BINSTRING")
_OPCODES[ord("C")] = _string_op("<B", "SHORT_BINBYTES")
_OPCODES[ord("B")] = _string_op("<I", "BINBYTES")
_OPCODES[0x8E] = _string_op("<Q", "BINBYTES8")
_OPCODES[0x96] = _string_op("<Q", "BYTEARRAY8")  # a protocol-5 array's in-band buffer
_OPCODES[0x8C] = _string_op("<B", "SHORT_BINUNICODE", unicode=True)
_OPCODES[ord("X")] = _string_op("<I", "BINUNICODE", unicode=True)
_OPCODES[0x8D] = _string_op("<Q", "BINUNICODE8", unicode=True)


@_op(b"c")  # GLOBAL
def _global(r: _BatchReader) -> None:
    module = r.line()
    r.find_global(module, r.line())


@_op(b"\x93")  # STACK_GLOBAL
def _stack_global(r: _BatchReader) -> None:
    name = r.pop()
    r.find_global(r.pop(), name)


@_op(b"R")  # REDUCE
def _reduce(r: _BatchReader) -> None:
    args = r.pop()
    func = r.pop()
    r.push(r.reduce(func, args), 0)


@_op(b"b")  # BUILD
def _build(r: _BatchReader) -> None:
    state = r.pop()
    r.build(state, r.top())


def _output(value: Any, done: dict[int, Any]) -> Any:
    """A value of the batch as returned: byte strings decoded (latin1), arrays unwrapped;
    each object converted once however often the file refers to it."""
    if id(value) in done:
        return done[id(value)]
    if isinstance(value, _Span):
        out: Any = str(value.view, "latin1")
    elif isinstance(value, bytes):
        out = value.decode("latin1")
    elif isinstance(value, list):
        out = [_output(v, done) for v in value]
    elif isinstance(value, _Array):
        out = value.array
    else:
        return value
    done[id(value)] = out
    return out


def read_cifar_batch(path: str | os.PathLike) -> dict[str, Any]:
    """Read one CIFAR python batch (or meta file) safely; keys are str.

    The file is parsed, not unpickled: only the opcodes a batch uses are accepted, only
    numpy's plain uint8 array may be built (from exactly the bytes it declares), and
    nothing named in the file is imported or called (see the module's docstring).

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``cifar-10-batches-py/data_batch_1``.

    Returns
    -------
    batch : dict
        Its entries, keys decoded to str (``"data"``, ``"labels"``, ...), byte
        strings among the values decoded too (``label_names``); ``"data"`` (when
        present) is a writable C-contiguous uint8 array.

    Raises
    ------
    ValueError
        Naming the file, if it is not a pickle, is truncated or followed by other
        bytes, names anything but numpy's array reconstruction, asks for a dtype
        other than plain uint8 (a dtype state, flags, strides, object arrays), declares
        an array larger than the bytes it holds, or holds anything but one dict of
        strings, integers, flat lists of them and one uint8 array.
    """
    path = Path(path)
    raw = path.read_bytes()
    batch = _BatchReader(raw, str(path)).read()
    done: dict[int, Any] = {}
    return {key: _output(value, done) for key, value in batch.items()}


def _folder(path: str | os.PathLike, spec: dict[str, Any], what: str) -> Path:
    """The folder holding the batches: ``path`` itself or its ``cifar-*`` subfolder."""
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a folder; it should hold {what}'s python batches "
            f"(the {spec['folder']!r} folder of the archive, or the folder above it)."
        )
    inner = folder / spec["folder"]
    return inner if inner.is_dir() else folder


def _load(
    path: str | os.PathLike,
    spec: dict[str, Any],
    what: str,
    subset: str,
    n_samples: int | None,
    label_key: str,
    names_key: str,
) -> tuple[np.ndarray, np.ndarray, list[str] | None, Path]:
    check_options(subset, "subset", {"train", "test"})
    if n_samples is not None:
        check_number(n_samples, "n_samples", low=1, integer=True)
    folder = _folder(path, spec, what)
    missing = [name for name in spec[subset] if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(repr(m) for m in missing)} (needed for "
            f"subset={subset!r} of {what}); it holds {sorted(p.name for p in folder.iterdir())}."
        )
    n_classes = spec["classes"][label_key]
    images, labels = [], []
    remaining = n_samples
    for name in spec[subset]:
        file = folder / name
        batch = read_cifar_batch(file)
        if "data" not in batch or label_key not in batch:
            raise ValueError(
                f"{file} is not a {what} batch: it lacks 'data' or {label_key!r} "
                f"(it has {sorted(batch)})."
            )
        data, listed = batch["data"], batch[label_key]
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            got = f"shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise ValueError(
                f"{file}: 'data' must be uint8 rows of 3 x 32 x 32 = 3072 values, got {got}."
            )
        if not isinstance(listed, list) or not all(type(v) is int for v in listed):
            raise ValueError(f"{file}: {label_key!r} must be a list of integers.")
        if len(listed) != data.shape[0]:
            raise ValueError(f"{file}: {data.shape[0]} images but {len(listed)} labels.")
        y = check_file_labels(
            np.array(listed, dtype=np.int64), str(file), repr(label_key), high=n_classes - 1
        )
        if remaining is not None:
            data, y = data[:remaining], y[:remaining]
            remaining -= len(y)
        images.append(data)
        labels.append(y)
        if remaining == 0:
            break
    X = np.concatenate(images).reshape(-1, 3, 32, 32).astype(np.float32)
    X /= np.float32(255)
    target = np.concatenate(labels)
    meta = folder / spec["meta"]
    names = read_cifar_batch(meta).get(names_key) if meta.is_file() else None
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_classes
        or not all(isinstance(v, str) for v in names)
    ):
        raise ValueError(f"{meta}: {names_key!r} must be a list of {n_classes} class names.")
    return X, target, names, folder


@overload
def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from the python version's batches in a local folder.

    ``path`` is the ``cifar-10-batches-py`` folder of ``cifar-10-python.tar.gz``
    (or the folder holding it): ``data_batch_1`` ... ``data_batch_5``,
    ``test_batch`` and ``batches.meta``. Nothing is downloaded. The batches
    are parsed, not unpickled, by :func:`read_cifar_batch`, which builds only
    what a batch holds and nothing larger than the file.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        The 50,000 training images (five batches, in order) or the 10,000 test images.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images (only the batches needed are read).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]), ``target`` (int64, 0 to 9) and ``target_names``; or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or a batch of the split is missing; the message names it.
    ValueError
        Naming the file, if a file is not a CIFAR batch (see
        :func:`read_cifar_batch`), its ``data`` is not uint8 rows of 3072 values,
        its labels are not one integer per image in the classes' range, or the
        meta file's class names are not one string per class.
    """
    X, y, names, folder = _load(
        path, _CIFAR10, "CIFAR-10", subset, n_samples, "labels", "label_names"
    )
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=names,
        DESCR=f"CIFAR-10 {subset} split read from {folder}.",
    )


@overload
def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    label_type: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    label_type: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    label_type: str = "fine",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-100 from the python version's files in a local folder.

    ``path`` is the ``cifar-100-python`` folder of ``cifar-100-python.tar.gz``
    (or the folder holding it): ``train``, ``test`` and ``meta``. Nothing is
    downloaded; the files are read as by :func:`load_cifar10`.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        The 50,000 training or the 10,000 test images.
    label_type : {"fine", "coarse"}, default="fine"
        The 100 classes or the 20 superclasses.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]), ``target`` (int64) and ``target_names``; or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or the split's file is missing; the message names it.
    ValueError
        Naming the file, if a file is not a CIFAR batch (see
        :func:`read_cifar_batch`), its ``data`` is not uint8 rows of 3072 values,
        its labels are not one integer per image in the classes' range, or the
        meta file's class names are not one string per class.
    """
    check_options(label_type, "label_type", {"fine", "coarse"})
    X, y, names, folder = _load(
        path,
        _CIFAR100,
        "CIFAR-100",
        subset,
        n_samples,
        f"{label_type}_labels",
        f"{label_type}_label_names",
    )
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=names,
        DESCR=f"CIFAR-100 {subset} split ({label_type} labels) read from {folder}.",
    )
