#!/usr/bin/python3
"""JPEG reference set for the decoder test: JPEGs written by PIL, and PIL's own decode of each.

Run with Debian's Python and Pillow (what OpenVision's preprocessing uses; libjpeg-turbo inside):
    apt-get install -y python3-pil && /usr/bin/python3 tools/make-jpeg-fixtures.py
Writes test/fixtures/jpeg/: NAME.jpg, NAME.rgb.png (PIL's `Image.open(f).convert('RGB')`,
stored losslessly) and cases.json (size, kind and the SHA-256 of the RGB bytes for every case; the
large case keeps only the hash, so that the fixtures stay small).
"""
import hashlib
import json
import os

import PIL
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, 'test', 'fixtures')
OUT = os.path.join(SRC, 'jpeg')


def photo(name, box=None, size=None):
    im = Image.open(os.path.join(SRC, name)).convert('RGB')
    if box:
        im = im.crop(box)
    if size:
        im = im.resize(size, Image.BICUBIC)
    return im


# name, source image, save options, keep the decoded pixels (False: hash only)
CASES = [
    ('420-q90-97x61', photo('chelsea.png', (120, 40, 217, 101)), dict(quality=90, subsampling=2), True),
    ('420-q75-64x48', photo('coffee.png', (200, 100, 264, 148)), dict(quality=75, subsampling=2), True),
    ('420-q90-17x23', photo('astronaut.png', (180, 80, 197, 103)), dict(quality=90, subsampling=2), True),
    ('422-q90-61x37', photo('rocket.png', (150, 100, 211, 137)), dict(quality=90, subsampling=1), True),
    ('444-q95-45x33', photo('astronaut.png', (200, 200, 245, 233)), dict(quality=95, subsampling=0), True),
    ('progressive-420-q85-83x59', photo('chelsea.png', (50, 60, 133, 119)), dict(quality=85, subsampling=2, progressive=True), True),
    ('progressive-444-q90-31x29', photo('coffee.png', (300, 200, 331, 229)), dict(quality=90, subsampling=0, progressive=True), True),
    ('gray-q90-53x41', photo('astronaut.png', (100, 100, 153, 141)).convert('L'), dict(quality=90), True),
    ('cmyk-q90-39x27', photo('rocket.png', (200, 150, 239, 177)).convert('CMYK'), dict(quality=90), True),
    ('420-q75-1600x1200', photo('astronaut.png', size=(1600, 1200)), dict(quality=75, subsampling=2), False),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {'pillow': PIL.__version__, 'libjpeg': features.version('jpg'), 'cases': []}
    for name, im, opts, keep in CASES:
        path = os.path.join(OUT, name + '.jpg')
        im.save(path, 'JPEG', **opts)
        with Image.open(path) as f:
            mode = f.mode
            rgb = f.convert('RGB')
        raw = rgb.tobytes()
        if keep:
            rgb.save(os.path.join(OUT, name + '.rgb.png'))
        meta['cases'].append({'name': name, 'width': rgb.width, 'height': rgb.height, 'mode': mode,
                              'save': opts, 'pixels': keep, 'sha256': hashlib.sha256(raw).hexdigest()})
        print(f'{name}: {mode} {rgb.width}x{rgb.height}, {os.path.getsize(path)} bytes')
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
