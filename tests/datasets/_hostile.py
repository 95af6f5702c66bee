"""Hostile and mutated data files for the loaders' tests: crafted CIFAR pickles, gzip and
zlib bombs built without inflating them, a small MATLAB 5 writer, the byte mutations of
the fuzz tests and the memory check they share."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np

from tests._files import _Python2Pickler

#: numpy's array reconstruction, whatever its module in this numpy version.
RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
#: numpy's uint8 dtype state as ``numpy.dtype('u1').__reduce__()`` writes it.
PLAIN_STATE = (3, "|", None, None, None, -1, -1, 0)


class Reduce:
    """Pickles as ``func(*args)`` (then ``__setstate__(state)`` when a state is given)."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        if self.state is None:
            return self.func, self.args
        return self.func, self.args, self.state


class _Python2(_Python2Pickler):
    """tests/_files.py's Python-2 pickler, also for a str saved twice (a one-character
    str encodes to a cached bytes object, already in the memo)."""

    dispatch = _Python2Pickler.dispatch.copy()

    def save_str(self, obj):
        raw = obj.encode("latin1")
        if id(raw) in self.memo:
            self.write(self.get(self.memo[id(raw)][0]))
        else:
            self.save_bytes(raw)

    dispatch[str] = save_str


def py2_pickle(obj) -> bytes:
    """``obj`` pickled as Python 2's cPickle wrote the CIFAR batches (protocol 2)."""
    out = io.BytesIO()
    _Python2(out, protocol=2).dump(obj)
    return out.getvalue()


def dtype(code="u1", state=PLAIN_STATE):
    """A pickled numpy dtype: ``numpy.dtype(code)`` then the given ``__setstate__``."""
    return Reduce(np.dtype, (code, False, True), state)


def reconstructed(shape, dt, raw, fortran=False):
    """A pickled ndarray as numpy writes one: ``_reconstruct`` and a ``__setstate__``."""
    return Reduce(RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, shape, dt, fortran, raw))


# --- gzip and zlib streams of many zeros, built without compressing them -----------------

_MIB = 1 << 20


def _gf2_times(mat, vec):
    total, i = 0, 0
    while vec:
        if vec & 1:
            total ^= mat[i]
        vec >>= 1
        i += 1
    return total


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1, crc2, len2):
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _crc32_of_zeros(n_mib):
    crc, size = zlib.crc32(bytes(_MIB)), _MIB  # of 1 MiB, doubled, then summed by bits
    total, total_len = 0, 0
    for bit in range(n_mib.bit_length()):
        if n_mib >> bit & 1:
            total, total_len = crc32_combine(total, crc, size), total_len + size
        crc, size = crc32_combine(crc, crc, size), 2 * size
    return total


def gzip_bomb(prefix: bytes, n_mib: int) -> bytes:
    """A valid gzip file of ``prefix`` followed by ``n_mib`` MiB of zeros (about 1 KB per
    MiB), its CRC and length fields right."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(bytes(_MIB)) + co.flush(zlib.Z_FULL_FLUSH)
    assert co.compress(bytes(_MIB)) + co.flush(zlib.Z_FULL_FLUSH) == block
    tail = co.flush()
    crc = crc32_combine(zlib.crc32(prefix), _crc32_of_zeros(n_mib), n_mib * _MIB)
    size = (len(prefix) + n_mib * _MIB) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + head + block * n_mib + tail + struct.pack("<II", crc, size)


def zlib_bomb(prefix: bytes, n_mib: int, suffix: bytes = b"") -> bytes:
    """A valid zlib stream (as in a .mat file's compressed variable) of ``prefix``,
    ``n_mib`` MiB of zeros and ``suffix``, its Adler-32 right."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(bytes(_MIB)) + co.flush(zlib.Z_FULL_FLUSH)
    assert co.compress(bytes(_MIB)) + co.flush(zlib.Z_FULL_FLUSH) == block
    tail = co.compress(suffix) + co.flush()
    adler = zlib.adler32(prefix)
    a, b = adler & 0xFFFF, adler >> 16
    b = (b + (n_mib * _MIB % 65521) * a) % 65521  # zeros leave the first sum as it is
    adler = zlib.adler32(suffix, (b << 16) | a)
    return b"\x78\xda" + head + block * n_mib + tail + struct.pack(">I", adler)


# --- MATLAB 5 files, written element by element -------------------------------------------

_CODES = (  # dtype, MATLAB data type (mi*), MATLAB class (mx*)
    ("i1", 1, 8), ("u1", 2, 9), ("i2", 3, 10), ("u2", 4, 11), ("i4", 5, 12),
    ("u4", 6, 13), ("f4", 7, 7), ("f8", 9, 6), ("i8", 12, 14), ("u8", 13, 15),
)  # fmt: skip
MI = {np.dtype(k): mi for k, mi, _ in _CODES}
MX = {np.dtype(k): mx for k, _, mx in _CODES}


def _pad8(b: bytes) -> bytes:
    return b + bytes(-len(b) % 8)


def mat_header() -> bytes:
    text = b"MATLAB 5.0 MAT-file, written by robustsk's tests"
    return text.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0100) + b"IM"


def mat_matrix(name, array=None, *, dims=None, data=None, cls=None, data_type=None):
    """One miMATRIX element (its tag included): ``array`` in column-major order, or the
    given ``dims``, raw ``data`` and class / data type (for declarations that lie)."""
    if array is not None:
        array = np.asarray(array)
        dims = array.shape if dims is None else dims
        data = array.tobytes(order="F") if data is None else data
        cls = MX[array.dtype] if cls is None else cls
        data_type = MI[array.dtype] if data_type is None else data_type
    flags = struct.pack("<IIII", 6, 8, cls, 0)
    dims_el = _pad8(struct.pack("<II", 5, 4 * len(dims)) + struct.pack(f"<{len(dims)}i", *dims))
    name_el = _pad8(struct.pack("<II", 1, len(name)) + name.encode())
    data_el = _pad8(struct.pack("<II", data_type, len(data)) + data)
    body = flags + dims_el + name_el + data_el
    return struct.pack("<II", 14, len(body)) + body


def mat_compressed(element: bytes, stream: bytes | None = None) -> bytes:
    """An miCOMPRESSED element holding ``element`` (or the given zlib ``stream``)."""
    stream = zlib.compress(element) if stream is None else stream
    return struct.pack("<II", 15, len(stream)) + stream


# --- the fuzz tests' mutations and memory check ------------------------------------------

_INTERESTING = (0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000)
_INTERESTING += (0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 3072, 6272, 10000, 100000)


def mutations(base: bytes, rng: np.random.Generator, n: int, *, hot=(), fields=()):
    """``n`` damaged copies of ``base``: byte flips, truncations, inserted, deleted and
    repeated bytes, trailing garbage and overwritten header fields.

    ``hot`` lists ``(start, stop)`` byte ranges (the headers) that get most of the byte
    flips; ``fields`` lists ``(offset, size, byte order)`` integer fields that get
    overwritten with boundary values (0, 1, 0xFFFFFFFF, the declared size plus or minus
    one...).
    """
    hot_positions = np.concatenate([np.arange(a, min(b, len(base))) for a, b in hot] or [[]])
    hot_positions = hot_positions.astype(np.int64)

    def position(end):
        if len(hot_positions) and rng.random() < 0.7:
            return int(hot_positions[rng.integers(len(hot_positions))]) % max(end, 1)
        return int(rng.integers(max(end, 1)))

    out = []
    for i in range(n):
        data = bytearray(base)
        kind = i % 7
        if kind == 0:  # flip 1 to 4 bytes (or bits)
            for _ in range(int(rng.integers(1, 5))):
                p = position(len(data))
                data[p] = (
                    data[p] ^ (1 << int(rng.integers(8)))
                    if rng.random() < 0.5
                    else int(rng.integers(256))
                )
        elif kind == 1:  # truncate
            cut = position(len(data)) if rng.random() < 0.5 else int(rng.integers(len(data)))
            del data[cut:]
        elif kind == 2:  # insert 1 to 16 random bytes
            p = position(len(data) + 1)
            data[p:p] = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        elif kind == 3:  # delete 1 to 16 bytes
            p = position(len(data))
            del data[p : p + int(rng.integers(1, 17))]
        elif kind == 4 and fields:  # overwrite a header field with a boundary value
            offset, size, order = fields[int(rng.integers(len(fields)))]
            old = int.from_bytes(data[offset : offset + size], order)
            choices = [v for v in _INTERESTING if v < 1 << (8 * size)]
            choices += [(old + d) % (1 << (8 * size)) for d in (-1, 1, 8, -8)]
            choices += [(old * 2) % (1 << (8 * size)), old >> 1]
            value = choices[int(rng.integers(len(choices)))]
            data[offset : offset + size] = value.to_bytes(size, order)
        elif kind == 5:  # repeat a range (a duplicated element or record)
            p = position(len(data))
            q = min(len(data), p + int(rng.integers(1, 64)))
            data[q:q] = data[p:q]
        else:  # trailing garbage, or a truncation right after a header
            if rng.random() < 0.5:
                data += rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
            else:
                del data[position(len(data)) + 1 :]
        out.append(bytes(data))
    return out


def memory_limit(file_size: int) -> int:
    """What a loader may allocate (tracemalloc's peak) for a file of ``file_size`` bytes."""
    return 20 * file_size + (1 << 20)


def traced_peak(func, *args, **kwargs):
    """``(outcome, peak bytes)``: the call's result or the exception it raised, and the
    peak of memory it allocated (tracemalloc must be tracing)."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        outcome = func(*args, **kwargs)
    except Exception as exc:  # returned for the caller's assertions
        outcome = exc
    return outcome, tracemalloc.get_traced_memory()[1] - before


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An idx file's bytes: magic number, big-endian sizes, then the values."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def check_failure(exc: BaseException, files) -> None:
    """A loader's failure must be a ValueError naming one of ``files``."""
    if not isinstance(exc, ValueError):
        raise AssertionError(f"{type(exc).__name__} instead of a ValueError: {exc}") from exc
    if not any(str(f) in str(exc) for f in files):
        raise AssertionError(f"the error names none of the files: {exc}")


def check_images(X, y, *, channels: int, n_classes: int | None) -> None:
    """What a loader returns: float32 ``(n, channels, h, w)`` images of 8-bit values
    scaled to [0, 1] and one int64 label per image, in range."""
    assert isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 4
    assert X.shape[1] == channels and X.flags.c_contiguous
    assert isinstance(y, np.ndarray) and y.dtype == np.int64 and y.shape == (len(X),)
    if X.size:
        assert 0.0 <= X.min() and X.max() <= 1.0
        scaled = X.astype(np.float64) * 255
        assert np.abs(scaled - np.round(scaled)).max() < 1e-3
    if y.size:
        assert y.min() >= 0 and (n_classes is None or y.max() < n_classes)


def overwrite(path, data: bytes) -> None:
    """Write ``data`` over the file at ``path`` (much faster than ``write_bytes`` for a
    fuzz loop: ext4 makes truncating a file to 0 and writing it again slow)."""
    try:
        with open(path, "r+b") as f:
            f.write(data)
            f.truncate()
    except FileNotFoundError:
        path.write_bytes(data)
