"""The PWTR container of the PyTorch reference fixtures (tests/fixtures/torch/*.bin):
one writer for the generators (make_fixtures.py, make_gpt_fixtures.py) and one reader
for their self-checks. The reader needs only Python's standard library; the writer
takes torch tensors (or anything torch.as_tensor takes).

File format (all little-endian):

    u32  magic    0x52545750  (the bytes "PWTR")
    u32  version  1
    u32  hint length H, then H bytes of ASCII text (how to regenerate the file)
    u32  record count N, then N records:
         u32 name length, name bytes (ASCII)
         u32 dtype (1 = f32, 2 = i32, 3 = f64)
         u32 ndim, u32 dims[ndim]
         the elements, row-major, prod(dims) of them (a scalar has ndim 0)
"""
import array
import os
import struct
import sys

MAGIC = 0x52545750
VERSION = 1
# dtype name -> (code, numpy dtype, array typecode, element size)
DTYPES = {"f32": (1, "<f4", "f", 4), "i32": (2, "<i4", "i", 4), "f64": (3, "<f8", "d", 8)}
BY_CODE = {v[0]: (k, v[2], v[3]) for k, v in DTYPES.items()}


class Writer:
    """Collects records in order; write() stamps magic, version and HINT % torch version."""

    def __init__(self, hint):
        self.hint = hint
        self.records = []

    def add(self, name, value, dtype):
        import torch  # only the writer needs torch and numpy

        code, np_dtype, _, _ = DTYPES[dtype]
        # Converted straight to the record's dtype: a Python float through torch's default
        # float32 would store 0.001 as 0.0010000000474974513 in an f64 record.
        t = torch.as_tensor(value, dtype=getattr(torch, {"f32": "float32", "i32": "int32", "f64": "float64"}[dtype]))
        arr = t.detach().cpu().numpy().astype(np_dtype)
        body = struct.pack("<I", len(name)) + name.encode("ascii")
        body += struct.pack("<II", code, arr.ndim)
        body += struct.pack("<%dI" % arr.ndim, *arr.shape)
        body += arr.tobytes(order="C")
        self.records.append(body)

    def data(self):
        import torch

        hint = (self.hint % torch.__version__).encode("ascii")
        data = struct.pack("<II", MAGIC, VERSION) + struct.pack("<I", len(hint)) + hint
        return data + struct.pack("<I", len(self.records)) + b"".join(self.records)

    def write(self, path):
        data = self.data()
        with open(path, "wb") as f:
            f.write(data)
        print("wrote %s (%d bytes)" % (os.path.relpath(path), len(data)))


class Record:
    """One record as read: dtype name ("f32", "i32", "f64"), dims (a list), values (a flat
    array.array, row-major)."""

    def __init__(self, dtype, dims, values):
        self.dtype, self.dims, self.values = dtype, dims, values

    def scalar(self):
        if self.dims:
            raise ValueError("not a scalar: dims %s" % self.dims)
        return self.values[0]


def parse(data):
    """Parses a container's bytes: returns (hint, {name: Record}) in file order; raises
    ValueError on a bad magic or version, a truncated file, trailing bytes or a repeated name."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("truncated at byte %d (needs %d more)" % (pos, n))
        pos += n
        return data[pos - n:pos]

    def u32():
        return struct.unpack("<I", take(4))[0]

    magic, version = u32(), u32()
    if magic != MAGIC:
        raise ValueError("bad magic 0x%08x (not a PWTR fixture)" % magic)
    if version != VERSION:
        raise ValueError("PWTR version %d, this reader knows %d" % (version, VERSION))
    hint = take(u32()).decode("ascii")
    records = {}
    for _ in range(u32()):
        name = take(u32()).decode("ascii")
        code = u32()
        if code not in BY_CODE:
            raise ValueError("%s: unknown dtype %d" % (name, code))
        dtype, typecode, size = BY_CODE[code]
        dims = [u32() for _ in range(u32())]
        count = 1
        for d in dims:
            count *= d
        values = array.array(typecode)
        values.frombytes(take(count * size))
        if sys.byteorder != "little":
            values.byteswap()
        if name in records:
            raise ValueError("record %s repeated" % name)
        records[name] = Record(dtype, dims, values)
    if pos != len(data):
        raise ValueError("%d bytes after the last record" % (len(data) - pos))
    return hint, records


def read(path):
    with open(path, "rb") as f:
        return parse(f.read())
