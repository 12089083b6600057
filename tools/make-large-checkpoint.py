#!/usr/bin/python3
"""A full-size OpenVision 1 CLIP checkpoint with random weights, for load-time and memory measurements.

    python3 tools/make-large-checkpoint.py OUT_DIR [h-14]      (needs numpy and a built dist/: npm run build)
Writes OUT_DIR/open_clip_pytorch_model.bin (torch.save's zip format, written without torch, as
tools/make-checkpoint-fixtures.py does; one storage per tensor, stored uncompressed) and
OUT_DIR/open_clip_config.json. The vision tower is the project's preset (src/model/config.ts); the text
tower is OpenVision 1's: width 1024, 16 heads, 24 layers, context 80, vocabulary 32000. Weights are
normal(0, 0.02), seeded. H/14: 3.9 GB. Not for committing.
"""
import collections
import importlib.util
import json
import os
import subprocess
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location('fixtures', os.path.join(ROOT, 'tools', 'make-checkpoint-fixtures.py'))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)  # the stand-in torch globals and the pickler

out, preset = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else 'h-14')
text = {'contextLength': 80, 'vocabSize': 32000, 'width': 1024, 'heads': 16, 'layers': 24, 'mlpWidth': 4096,
        'eps': 1e-6, 'act': 'gelu_tanh'}
script = f"""
import {{ presetConfig }} from './dist/src/model/config.js';
import {{ expectedKeys, expectedTextKeys }} from './dist/src/model/parameters.js';
const c = presetConfig('{preset}');
const t = {{ ...{json.dumps(text)}, embedDim: c.embedDim }};
console.log(JSON.stringify({{ config: c, text: t,
  vision: [...expectedKeys(c)], textKeys: [...expectedTextKeys(t)] }}));
"""
info = json.loads(subprocess.check_output(['node', '--input-type=module', '-e', script], cwd=ROOT))
c, t = info['config'], info['text']
keys = [('visual.' + k, s) for k, s in info['vision']] + info['textKeys'] + [('logit_scale', [])]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(14)
storages, sd = [], collections.OrderedDict()
for i, (k, shape) in enumerate(keys):
    n = int(np.prod(shape)) if shape else 1
    s = fx.Storage('FloatStorage', str(i), n, None)
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    storages.append((s, shape))
    sd[k] = fx.Tensor(s, shape, stride)
path = os.path.join(out, 'open_clip_pytorch_model.bin')
with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED, allowZip64=True) as z:
    with z.open('archive/data.pkl', 'w') as f:
        fx.Pickler(f, protocol=2).dump(sd)
    for s, shape in storages:
        with z.open(f'archive/data/{s.key}', 'w', force_zip64=True) as f:
            if not shape:
                f.write(np.array([np.log(100.0)], np.float32).tobytes())
                continue
            left = s.numel
            while left:  # 64 Mi values at a time: bounded memory
                m = min(left, 1 << 26)
                f.write((rng.standard_normal(m, dtype=np.float32) * 0.02).tobytes())
                left -= m
    z.writestr('archive/version', '3\n')
cfg = {'model_cfg': {'embed_dim': c['embedDim'],
                     'vision_cfg': {'image_size': c['imageSize'], 'layers': c['layers'], 'width': c['width'],
                                    'patch_size': c['patchSize'], 'no_ln_pre': True, 'pool_type': 'avg',
                                    'final_ln_after_pool': True, 'norm_kwargs': {'eps': 1e-6},
                                    'head_width': c['width'] // c['heads'], 'mlp_ratio': c['mlpWidth'] / c['width']},
                     'text_cfg': {'context_length': t['contextLength'], 'vocab_size': t['vocabSize'],
                                  'hf_tokenizer_name': 'bert-base-uncased', 'tokenizer_kwargs': {'strip_sep_token': True},
                                  'width': t['width'], 'heads': t['heads'], 'layers': t['layers'], 'pool_type': 'last',
                                  'no_causal_mask': True, 'act_kwargs': {'approximate': 'tanh'}, 'norm_kwargs': {'eps': 1e-6}}},
       'preprocess_cfg': {'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225],
                          'interpolation': 'bilinear', 'resize_mode': 'squash'}}
with open(os.path.join(out, 'open_clip_config.json'), 'w') as f:
    json.dump(cfg, f, indent=1)
print(f'wrote {path} ({os.path.getsize(path) / 1e9:.2f} GB, {len(keys)} tensors)')
