#!/usr/bin/env python3
"""Pillow's decode + resize throughput on the given image files, one thread, for bench/pipeline.ts.

What torchvision's OpenVision preprocessing does per image before ToTensor: open, decode, convert
to RGB, squash-resize to S x S with PIL bilinear (antialiased). Each file is decoded once as a
warm-up, then all files `--repeat` times; prints one JSON line: {"pillow": version, "images": n,
"seconds": s, "imagesPerSecond": r}.
Run with Debian's python3-pil: /usr/bin/python3 tools/pillow-decode.py --size 224 --repeat 5 FILE...
"""
import argparse
import io
import json
import time

import PIL
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument('--size', type=int, default=224)
ap.add_argument('--repeat', type=int, default=5)
ap.add_argument('files', nargs='+')
a = ap.parse_args()
blobs = [open(f, 'rb').read() for f in a.files]


def one(b):
    im = Image.open(io.BytesIO(b)).convert('RGB')
    return im.resize((a.size, a.size), Image.BILINEAR)


for b in blobs:
    one(b)
t0 = time.perf_counter()
n = 0
for _ in range(a.repeat):
    for b in blobs:
        one(b)
        n += 1
dt = time.perf_counter() - t0
print(json.dumps({'pillow': PIL.__version__, 'images': n, 'seconds': dt, 'imagesPerSecond': n / dt}))
