#!/usr/bin/python3
"""A small torch-zip checkpoint with every kind of storage the reader must list or refuse.

torch.save's format written without torch (a stand-in `torch` module provides the globals the
pickle names; the bytes are what torch.save writes: a zip of data.pkl + data/<key> storages):
    /usr/bin/python3 tools/make-checkpoint-fixtures.py
Writes test/fixtures/checkpoints/storage-types.bin with:
  visual.class_embedding  FloatStorage [4]          readable
  logit_scale             FloatStorage []  (0-d)    readable
  text.position_ids       LongStorage [1, 6]        listed, not readable as floats
  text.mask               BoolStorage [2, 2]        listed, not readable as floats
  text.quantized          QUInt8Storage [3]         a storage type the reader does not know
  visual.transposed       FloatStorage [2, 3], stride [1, 2]  non-contiguous
"""
import collections
import os
import pickle
import struct
import sys
import types
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'checkpoints')

torch = types.ModuleType('torch')
utils = types.ModuleType('torch._utils')
sys.modules['torch'], sys.modules['torch._utils'] = torch, utils
for name in ['FloatStorage', 'LongStorage', 'BoolStorage', 'QUInt8Storage']:
    setattr(torch, name, type(name, (), {'__module__': 'torch'}))


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = 'torch._utils'
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, kind, key, numel, data):
        self.kind, self.key, self.numel, self.data = getattr(torch, kind), key, numel, data


class Tensor:
    def __init__(self, storage, size, stride, offset=0):
        self.storage, self.size, self.stride, self.offset = storage, size, stride, offset

    def __reduce__(self):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', obj.kind, obj.key, 'cpu', obj.numel)
        return None


def f32(*v):
    return struct.pack(f'<{len(v)}f', *v)


def main():
    os.makedirs(OUT, exist_ok=True)
    storages = [
        Storage('FloatStorage', '0', 4, f32(0.5, -1.0, 2.0, 0.25)),
        Storage('FloatStorage', '1', 1, f32(4.6052)),
        Storage('LongStorage', '2', 6, struct.pack('<6q', 0, 1, 2, 3, 4, 5)),
        Storage('BoolStorage', '3', 4, bytes([1, 0, 0, 1])),
        Storage('QUInt8Storage', '4', 3, bytes([7, 8, 9])),
        Storage('FloatStorage', '5', 6, f32(1, 2, 3, 4, 5, 6)),
    ]
    sd = collections.OrderedDict([
        ('visual.class_embedding', Tensor(storages[0], [4], [1])),
        ('logit_scale', Tensor(storages[1], [], [])),
        ('text.position_ids', Tensor(storages[2], [1, 6], [6, 1])),
        ('text.mask', Tensor(storages[3], [2, 2], [2, 1])),
        ('text.quantized', Tensor(storages[4], [3], [1])),
        ('visual.transposed', Tensor(storages[5], [2, 3], [1, 2])),
    ])
    path = os.path.join(OUT, 'storage-types.bin')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        with z.open('storage-types/data.pkl', 'w') as f:
            Pickler(f, protocol=2).dump(sd)
        for s in storages:
            z.writestr(f'storage-types/data/{s.key}', s.data)
        z.writestr('storage-types/version', '3\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes)')


if __name__ == '__main__':
    main()
