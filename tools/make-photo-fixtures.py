#!/usr/bin/env python3
"""JPEG photos at typical web sizes, for the collection pipeline's tests and benchmark.

Made from the four photos in test/fixtures (astronaut, chelsea, coffee, rocket: scikit-image's
public-domain samples) with Pillow: each resized (Lanczos) to a few sizes between 160 and 640 px on
the long side and saved as baseline 4:2:0 JPEG, named NAME-WxH.jpg, into test/fixtures/pipeline/photos/.
Run with Debian's python3-pil: /usr/bin/python3 tools/make-photo-fixtures.py
"""
import os
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, '..', 'test', 'fixtures')
out = os.path.join(src, 'pipeline', 'photos')
os.makedirs(out, exist_ok=True)
SIZES = {'astronaut': [(320, 320), (512, 512)], 'chelsea': [(451, 300), (240, 160)],
         'coffee': [(600, 400), (300, 200)], 'rocket': [(427, 640), (213, 320)]}
for name, sizes in SIZES.items():
    im = Image.open(os.path.join(src, f'{name}.png')).convert('RGB')
    for (w, h) in sizes:
        im.resize((w, h), Image.LANCZOS).save(os.path.join(out, f'{name}-{w}x{h}.jpg'), quality=85, subsampling=2)
print('\n'.join(sorted(os.listdir(out))))
