#!/usr/bin/python3
"""16-bit PNG reference set for the decoder test: PNGs of every 16-bit colour type, and Pillow's
`Image.open(f).convert('RGB')` of each (what OpenVision's preprocessing does).

Run with Debian's Python and Pillow:
    apt-get install -y python3-pil && /usr/bin/python3 tools/make-png16-fixtures.py
Writes test/fixtures/png16/: NAME.png (written here byte by byte: Pillow cannot write 16-bit
colour PNGs) and NAME.rgb.png (Pillow's RGB, 8-bit, lossless), plus cases.json.
"""
import json
import os
import random
import struct
import zlib

import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'png16')
W, H = 13, 7


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(path, color_type, channels, rows):
    raw = b''.join(b'\x00' + b''.join(struct.pack('>H', v) for v in row) for row in rows)
    ihdr = struct.pack('>IIBBBBB', W, H, 16, color_type, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


rng = random.Random(16)
# Values across the whole 16-bit range, and small ones (< 256) where 'I' → 'RGB' keeps them.
def value():
    return rng.choice([rng.randrange(0, 256), rng.randrange(0, 65536), 65535, 0, 255, 256])


CASES = [('gray16', 0, 1), ('rgb16', 2, 3), ('gray-alpha16', 4, 2), ('rgba16', 6, 4)]
os.makedirs(OUT, exist_ok=True)
meta = {'pillow': PIL.__version__, 'cases': []}
for name, ct, ch in CASES:
    rows = [[value() for _ in range(W * ch)] for _ in range(H)]
    src = os.path.join(OUT, f'{name}.png')
    png16(src, ct, ch, rows)
    im = Image.open(src)
    mode = im.mode
    im.convert('RGB').save(os.path.join(OUT, f'{name}.rgb.png'))
    meta['cases'].append({'name': name, 'color_type': ct, 'pillow_mode': mode})
with open(os.path.join(OUT, 'cases.json'), 'w') as f:
    json.dump(meta, f, indent=1)
print(json.dumps(meta))
