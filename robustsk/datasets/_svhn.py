"""Reading SVHN (the cropped-digits ``.mat`` files) from a local folder.

The files are MATLAB 5 files: a 128-byte header, then one element per variable, each
a matrix, optionally zlib-compressed. They are not read with :func:`scipy.io.loadmat`,
which allocates what a file declares before it knows the file holds it (and can crash
on a crafted one): :class:`_MatFile` walks the elements itself, checks every size each
declares against the bytes the file (or, compressed, a zlib stream of its size) can
hold, and reads only ``X`` and ``y``, only as far as the images asked for, inflating a
compressed variable as a stream. What it allocates is bounded by the data it returns.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options
from ._binary import CHUNK, MAX_INFLATION, Inflated, Region, read_chunks, read_exact
from ._checks import check_file_labels

_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}

_MI_INT8, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_COMPRESSED = 1, 5, 6, 14, 15
#: MATLAB's numeric data types (``mi*``) as numpy dtypes, byte order aside.
_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
             13: "u8"}  # fmt: skip
#: MATLAB's numeric classes (``mx*``): double, single, then int8 to uint64.
_MX_NUMERIC = set(range(6, 16))
_MX_UINT8, _MX_OPAQUE = 9, 17
_COMPLEX, _LOGICAL = 0x08, 0x02
_NAME = re.compile(rb"([A-Za-z_][A-Za-z0-9_]*)?")  # MATLAB's subsystem data has no name
_IMAGE = 32 * 32 * 3  # bytes per image: X is (32, 32, 3, n) in column-major order


class _Variable:
    """One variable's header, and where its data starts (``left`` bytes of it unread)."""

    def __init__(self, source: Region | Inflated, nbytes: int, compressed: bool) -> None:
        self.source, self.left, self.compressed = source, nbytes, compressed
        self.name: str | None = None
        self.cls = self.bits = 0
        self.dims: tuple[int, ...] = ()


class _MatFile:
    """The elements of a MATLAB 5 file, read by their declared sizes (module docstring)."""

    def __init__(self, f: BinaryIO, path: str) -> None:
        self.f, self.path = f, path
        self.size = os.fstat(f.fileno()).st_size
        head = f.read(128)
        if len(head) < 128:
            raise self.fail(f"it has {len(head)} bytes, fewer than a MATLAB 5 header's 128")
        order = {b"IM": "<", b"MI": ">"}.get(head[126:128])
        if order is None:
            raise self.fail("its header is not a MATLAB 5 header (no byte-order mark)")
        version = struct.unpack(order + "H", head[124:126])[0]
        if version != 0x0100:
            raise self.fail(
                f"its header declares version {version:#06x}; only MATLAB 5 files (version "
                "0x0100, as saved with -v7 or -v6) are read, not -v7.3 (HDF5) files"
            )
        self.order = order

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{self.path} is not an SVHN .mat file: {why}.")

    def variables(self) -> Iterator[_Variable]:
        """Each non-empty variable, its header parsed (an opaque object's without name)."""
        pos = 128
        while pos < self.size:
            if self.size - pos < 8:
                raise self.fail(f"it ends with {self.size - pos} stray bytes at byte {pos}")
            self.f.seek(pos)
            mdtype, nbytes = struct.unpack(self.order + "II", self.f.read(8))
            start = pos + 8
            if nbytes > self.size - start:
                raise ValueError(
                    f"{self.path} is truncated: the variable at byte {pos} declares {nbytes} "
                    f"bytes, the file holds {self.size - start} more."
                )
            pos = start + nbytes
            var: _Variable
            if mdtype == _MI_COMPRESSED:
                source = Inflated(self.f, start, nbytes, self.path)
                tag = read_exact(source.read, 8, self.path, f"the variable at byte {start - 8}")
                inner, inflated = struct.unpack(self.order + "II", tag)
                if inner != _MI_MATRIX:
                    raise self.fail(f"the compressed variable at byte {start - 8} is no matrix")
                if 8 + inflated > MAX_INFLATION * nbytes:
                    raise self.fail(
                        f"the compressed variable at byte {start - 8} declares {inflated} "
                        f"bytes, more than its {nbytes} compressed bytes can hold"
                    )
                var = _Variable(source, inflated, compressed=True)
            elif mdtype == _MI_MATRIX:
                var = _Variable(Region(self.f, start, nbytes), nbytes, compressed=False)
            else:
                raise self.fail(f"the element at byte {start - 8} (type {mdtype}) is no matrix")
            if var.left:
                self._header(var)
                yield var

    def _take(self, var: _Variable, n: int, what: str) -> bytes:
        if n > var.left:
            raise self.fail(
                f"{what} of variable {var.name or '?'} declares {n} bytes, more than the "
                f"{var.left} left in its matrix"
            )
        var.left -= n
        return read_exact(var.source.read, n, self.path, f"{what} of a variable")

    def _tag(self, var: _Variable, what: str) -> tuple[int, int, bytes | None]:
        """``(type, size, inline data)`` of a sub-element (inline: the small format)."""
        raw = self._take(var, 8, what)
        first, second = struct.unpack(self.order + "II", raw)
        if first >> 16:
            if first >> 16 > 4:
                raise self.fail(f"{what} of variable {var.name or '?'} is malformed")
            return first & 0xFFFF, first >> 16, raw[4 : 4 + (first >> 16)]
        return first, second, None

    def _padded(self, var: _Variable, n: int, what: str) -> bytes:
        return self._take(var, n + (-n % 8), what)[:n]

    def _header(self, var: _Variable) -> None:
        mdtype, n, inline = self._tag(var, "the array flags")
        if mdtype != _MI_UINT32 or n != 8 or inline is not None:
            raise self.fail("a variable's array flags are malformed")
        flags = struct.unpack(self.order + "II", self._take(var, 8, "the array flags"))[0]
        var.cls, var.bits = flags & 0xFF, (flags >> 8) & 0xFF
        if var.cls == _MX_OPAQUE:
            return  # a MATLAB object: no dimensions, never X or y
        mdtype, n, inline = self._tag(var, "the dimensions")
        if mdtype != _MI_INT32 or inline is not None or n % 4 or not 8 <= n <= 128:
            raise self.fail("a variable's dimensions are malformed")
        var.dims = struct.unpack(f"{self.order}{n // 4}i", self._padded(var, n, "dimensions"))
        if min(var.dims) < 0:
            raise self.fail(f"a variable declares negative dimensions {var.dims}")
        mdtype, n, inline = self._tag(var, "the name")
        if mdtype != _MI_INT8 or n > 63:
            raise self.fail("a variable's name is malformed")
        name = inline if inline is not None else self._padded(var, n, "the name")
        if not _NAME.fullmatch(name):
            raise self.fail(f"a variable's name {name!r} is not a MATLAB name")
        var.name = name.decode("ascii")

    def numeric(
        self, var: _Variable, keep: int, *, record: int = 1, uint8: bool = False
    ) -> tuple[list[bytes], np.dtype]:
        """The first ``keep`` values of a real numeric variable (in column-major order) as
        raw pieces of whole ``record``-value runs, and their dtype. Everything the
        variable declares is checked before its data is read; when all of it is read,
        nothing may follow it."""
        if var.cls not in _MX_NUMERIC or var.bits & (_COMPLEX | _LOGICAL):
            raise self.fail(f"{var.name} is not a real numeric array")
        mdtype, n, inline = self._tag(var, "the data")
        if mdtype not in _MI_TYPES:
            raise self.fail(f"{var.name}'s data has MATLAB type {mdtype}, not a numeric one")
        dtype = np.dtype(self.order + _MI_TYPES[mdtype])
        if uint8 and dtype != np.uint8:
            raise self.fail(f"{var.name}'s data is stored as {dtype}, not uint8")
        count = math.prod(var.dims)
        if n != count * dtype.itemsize:
            raise self.fail(
                f"{var.name} declares dimensions {var.dims} ({count} values of {dtype.itemsize}"
                f" bytes) but its data declares {n} bytes"
            )
        if inline is None and n > var.left:
            raise self.fail(
                f"{var.name}'s data declares {n} bytes, more than the {var.left} left in its matrix"
            )
        nbytes = keep * dtype.itemsize
        if inline is not None:
            pieces = [inline[:nbytes]]
        else:
            step = max(1, CHUNK // (record * dtype.itemsize)) * record * dtype.itemsize
            what = f"variable {var.name}'s data"
            pieces = read_chunks(var.source.read, nbytes, self.path, what, chunk=step)
            var.left -= nbytes
        if keep == count:  # read whole: only padding may follow, and the stream must end
            if inline is None:
                self._take(var, -n % 8, "the padding")
            if var.left or (var.compressed and not var.source.at_end()):
                raise self.fail(f"{var.name} holds more than its data, or its stream is damaged")
        return pieces, dtype


def _read_svhn(file: Path, n_samples: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_samples`` (or all) images of ``file``, ``(n, 3, 32, 32)`` float32 in
    [0, 1], and their labels, 10 mapped to 0."""
    where = str(file)
    images: tuple[int, np.ndarray] | None = None
    labels: tuple[int, np.ndarray] | None = None
    with open(file, "rb") as f:
        mat = _MatFile(f, where)
        for var in mat.variables():
            if var.name == "X":
                if images is not None:
                    raise mat.fail("it holds two variables X")
                if var.cls != _MX_UINT8 or var.dims[:3] != (32, 32, 3) or len(var.dims) > 4:
                    raise mat.fail(
                        f"X must be uint8 of shape (32, 32, 3, n), got MATLAB class {var.cls} "
                        f"of shape {var.dims}"
                    )
                n = var.dims[3] if len(var.dims) == 4 else 1
                keep = n if n_samples is None else min(n, n_samples)
                pieces, _ = mat.numeric(var, keep * _IMAGE, record=_IMAGE, uint8=True)
                X = np.empty((keep, 3, 32, 32), dtype=np.float32)
                done = 0
                pieces.reverse()
                while pieces:  # (n, c, w, h) in the file: MATLAB's column-major order
                    chunk = np.frombuffer(pieces.pop(), dtype=np.uint8).reshape(-1, 3, 32, 32)
                    X[done : done + len(chunk)] = chunk.transpose(0, 1, 3, 2)
                    done += len(chunk)
                X /= np.float32(255)
                images = (n, X)
            elif var.name == "y":
                if labels is not None:
                    raise mat.fail("it holds two variables y")
                count = math.prod(var.dims)
                if len(var.dims) != 2 or count not in var.dims:
                    raise mat.fail(f"y must be a vector of labels, got shape {var.dims}")
                keep = count if n_samples is None else min(count, n_samples)
                pieces, dtype = mat.numeric(var, keep)
                values = np.frombuffer(b"".join(pieces), dtype=dtype)
                labels = (count, check_file_labels(values, where, "y", low=1, high=10))
    if images is None or labels is None:
        missing = " and ".join(v for v, got in (("X", images), ("y", labels)) if got is None)
        raise ValueError(f"{file} is not an SVHN .mat file: it lacks {missing}.")
    (n, X), (n_labels, y) = images, labels
    if n != n_labels:
        raise ValueError(f"{file} is not an SVHN .mat file: {n} images but {n_labels} labels.")
    y[y == 10] = 0
    return X, y


@overload
def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load SVHN (format 2, cropped 32 x 32 digits) from its ``.mat`` files in a folder.

    The folder holds ``train_32x32.mat``, ``test_32x32.mat`` and, optionally,
    ``extra_32x32.mat`` as distributed (MATLAB 5 files with ``X`` of shape
    ``(32, 32, 3, n)`` and ``y`` of shape ``(n, 1)``, where label 10 means the
    digit 0). Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test", "extra"}, default="train"
        Which file to read (73,257, 26,032 or 531,131 images).
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images (only their bytes are read and
        inflated).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]) and ``target`` (int64, 0 to 9, label 10 mapped to 0); or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or the split's file is missing; the message names it.
    ValueError
        Naming the file, if it is not an SVHN ``.mat`` file: not a MATLAB 5 file
        (-v7.3 files are HDF5), truncated, declaring more data than it holds (or than
        its compressed bytes can inflate to), its compressed data damaged, ``X`` not
        uint8 of shape (32, 32, 3, n), or ``y`` not n labels 1 to 10.
    """
    check_options(subset, "subset", set(_FILES))
    if n_samples is not None:
        check_number(n_samples, "n_samples", low=1, integer=True)
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a folder; it should hold SVHN's .mat files "
            f"({', '.join(_FILES.values())})."
        )
    file = folder / _FILES[subset]
    if not file.is_file():
        raise FileNotFoundError(
            f"{folder} lacks {_FILES[subset]!r} (needed for subset={subset!r}); it holds "
            f"{sorted(p.name for p in folder.iterdir())}."
        )
    X, y = _read_svhn(file, n_samples)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, DESCR=f"SVHN {subset} split read from {folder}.")
