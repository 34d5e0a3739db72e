"""Does weight mapping pay off? The same short RetinaNet fine-tune on the demo data from
(a) the seed mapped into an adapted MobileNetV2 (other widths, depths and kernels),
(b) the same adapted architecture from random init, (c) the seed itself.

Also measures, before any training, the top-1/top-5 agreement with the seed of several
mapped targets on the real photos bundled with scikit-image / scikit-learn.

Full run (3 seeds x 3 arms of configs/baselines/retinanet_mbv2_fpn_demo.py's schedule):
    python bench/mapping_quality.py
Tiny check of the plumbing (1 seed, 1 epoch, 8 generated images; numbers meaningless):
    python bench/mapping_quality.py --tiny --out work_dirs/mapping_quality_tiny
Real-photo agreement only (a few seconds):
    python bench/mapping_quality.py --photos-only

Writes <out>/mapping_quality.json (``ap_mapped``, ``ap_seed``, ``ap_random`` means, the
per-seed values, the mapping report totals, the photo agreement) and mapping_quality.md.
Results are on generated demo data, not COCO.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

BASE_CONFIG = osp.join(ROOT, 'configs/baselines/retinanet_mbv2_fpn_demo.py')
SEED = 'detnas://mobilenet_v2_imagenet'
# The adapted backbone: widths, depths and kernels differ from the seed's in most stages.
ADAPTED_ARCH = [[1, 16, 1, 1, 3], [6, 24, 3, 2, 5], [6, 40, 3, 2, 3], [4, 64, 3, 2, 5],
                [6, 96, 4, 1, 3], [6, 160, 2, 2, 5], [6, 320, 1, 1, 3]]
SEED_ARCH = [[1, 16, 1, 1, 3], [6, 24, 2, 2, 3], [6, 32, 3, 2, 3], [6, 64, 4, 2, 3],
             [6, 96, 3, 1, 3], [6, 160, 3, 2, 3], [6, 320, 1, 1, 3]]
OUT_INDICES = (2, 4, 6)

# real-photo targets: name -> (arch_setting, stem, last, MappingConfig kwargs)
PHOTO_TARGETS = {
    'identity': (SEED_ARCH, 32, 1280, {}),
    'wider_net2net': ([[e, c * 3 // 2, n, s, k] for e, c, n, s, k in SEED_ARCH], 48, 1920, {}),
    'wider_zero': ([[e, c * 3 // 2, n, s, k] for e, c, n, s, k in SEED_ARCH], 48, 1920,
                   dict(widen='zero')),
    'deeper_identity': ([[e, c, n + 1, s, k] for e, c, n, s, k in SEED_ARCH], 32, 1280,
                        dict(deepen='identity')),
    'deeper_fna_copy': ([[e, c, n + 1, s, k] for e, c, n, s, k in SEED_ARCH], 32, 1280,
                        dict(deepen='fna_copy')),
    'kernel5_pad': ([[e, c, n, s, 5] for e, c, n, s, k in SEED_ARCH], 32, 1280, {}),
    'expand8_net2net': ([[8 if e > 1 else 2, c, n, s, k] for e, c, n, s, k in SEED_ARCH],
                        32, 1280, {}),
    'shallower': ([[e, c, max(1, n - 1), s, k] for e, c, n, s, k in SEED_ARCH], 32, 1280, {}),
    'expand4_l1': ([[4 if e > 1 else 1, c, n, s, k] for e, c, n, s, k in SEED_ARCH],
                   32, 1280, {}),
    'narrower_0.75_l1': ([[e, max(8, c * 3 // 4), n, s, k] for e, c, n, s, k in SEED_ARCH],
                         24, 1280, dict(narrow='l1')),
    'narrower_0.75_first_k': ([[e, max(8, c * 3 // 4), n, s, k]
                               for e, c, n, s, k in SEED_ARCH], 24, 1280,
                              dict(narrow='first_k')),
    'bench_adapted': (ADAPTED_ARCH, 32, 1280, dict(deepen='fna_copy')),
}


def photo_agreement() -> dict:
    """Top-1/top-5 agreement with the seed of every :data:`PHOTO_TARGETS` entry."""
    from detnas.datasets.seeds import load_seed
    from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
    from detnas.nas.mapping import (MappingConfig, imagenet_logits, load_real_photos,
                                    map_weights, topk_agreement)
    seed = load_seed(SEED)
    photos = list(load_real_photos().values())
    ref = AdaptedMobileNetV2(out_indices=(7, ))
    ref.load_state_dict(seed.backbone)
    seed_logits = imagenet_logits(ref, seed.classifier, photos)
    rows = {}
    for name, (arch, stem, last, cfg) in PHOTO_TARGETS.items():
        target = AdaptedMobileNetV2(arch_setting=arch, stem_channels=stem,
                                    last_channels=last, out_indices=(len(arch), ))
        result = map_weights(seed, target, MappingConfig(**cfg),
                             target_state=target.state_dict())
        target.load_state_dict(result.state_dict)
        agree = topk_agreement(seed_logits, imagenet_logits(target, result.classifier, photos))
        totals = result.report.totals()
        rows[name] = dict(agree, copied_fraction=totals['copied_fraction'],
                          seed_used_fraction=totals['seed_used_fraction'], config=cfg)
        print(f'{name:24s} top1 {agree["top1"]:.3f} top5 {agree["top5"]:.3f} '
              f'max_rel_diff {agree["max_rel_diff"]:.2e} copied '
              f'{totals["copied_fraction"]:.3f}', flush=True)
    return dict(images=len(photos), targets=rows)


def write_checkpoints(out: str) -> dict:
    """The seed (converted) and the mapped adapted backbone as mmdet-named checkpoints."""
    import torch
    from detnas.datasets.seeds import load_seed
    from detnas.nas.mapping import MappingConfig, map_weights
    seed = load_seed(SEED)
    os.makedirs(out, exist_ok=True)
    seed_ckpt = osp.join(out, 'seed_backbone.pth')
    torch.save(dict(state_dict=seed.backbone), seed_ckpt)
    target = dict(type='AdaptedMobileNetV2', arch_setting=ADAPTED_ARCH,
                  out_indices=OUT_INDICES)
    result = map_weights(seed, target, MappingConfig(deepen='fna_copy'))
    mapped_ckpt = osp.join(out, 'mapped_backbone.pth')
    result.save(mapped_ckpt, osp.join(out, 'mapping_report.json'))
    print(result.report.summary(), flush=True)
    return dict(seed=seed_ckpt, mapped=mapped_ckpt, totals=result.report.totals())


def arm_config(arm: str, ckpts: dict, seed: int, tiny_data: str = None,
               epochs: int = None) -> str:
    """Python config text for one arm, inheriting the RetinaNet demo baseline."""
    arch = SEED_ARCH if arm == 'seed' else ADAPTED_ARCH
    widths = [arch[i][1] for i in OUT_INDICES]
    init = {'seed': f"dict(type='Pretrained', checkpoint={ckpts['seed']!r})",
            'mapped': f"dict(type='Pretrained', checkpoint={ckpts['mapped']!r})",
            'random': 'None'}[arm]
    lines = [f'_base_ = {BASE_CONFIG!r}',
             'model = dict(',
             f"    backbone=dict(_delete_=True, type='AdaptedMobileNetV2', arch_setting={arch},",
             f'                  out_indices={OUT_INDICES}, act_cfg=dict(type="ReLU6"),',
             "                  norm_cfg=dict(type='BN', requires_grad=True),",
             f'                  init_cfg={init}),',
             f'    neck=dict(in_channels={widths}))',
             f'randomness = dict(seed={seed}, deterministic=False)']
    if epochs:
        lines += [f'train_cfg = dict(max_epochs={epochs}, val_interval={epochs})',
                  "param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]"]
    if tiny_data:
        lines += [f'data_root = {tiny_data!r}',
                  "train_dataloader = dict(batch_size=4, num_workers=0, "
                  "persistent_workers=False, dataset=dict(data_root=data_root))",
                  "val_dataloader = dict(batch_size=4, num_workers=0, "
                  "persistent_workers=False, dataset=dict(data_root=data_root))",
                  'test_dataloader = val_dataloader',
                  "val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')",
                  'test_evaluator = val_evaluator',
                  "model.update(test_cfg=dict(score_thr=0.0))"]
    return '\n'.join(lines) + '\n'


def read_ap(work_dir: str) -> float:
    """Last ``coco/bbox_mAP`` in the run's scalars log (0.0 if the evaluation was empty)."""
    ap = None
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'coco/bbox_mAP' in row:
                    ap = row['coco/bbox_mAP']
    if ap is None:
        raise RuntimeError(f'no coco/bbox_mAP in {work_dir}; see its log')
    return float(ap)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out', default=osp.join(ROOT, 'bench/results'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/mapping_quality'))
    parser.add_argument('--tiny', action='store_true',
                        help='1 seed, 1 epoch, 8 generated 128px images: checks the plumbing')
    parser.add_argument('--photos-only', action='store_true',
                        help='only the real-photo agreement (seconds)')
    args = parser.parse_args()
    results = dict(data='demo (generated) — not COCO', command=' '.join(sys.argv),
                   real_photos=photo_agreement())
    if not args.photos_only:
        tiny_data, epochs = None, None
        seeds = args.seeds
        if args.tiny:
            from detnas.datasets.demo_coco import DemoCocoSpec, make_demo_coco
            tiny_data = osp.join(args.work_dir, 'tiny_data') + '/'
            make_demo_coco(tiny_data, DemoCocoSpec(num_train=8, num_val=4,
                                                   image_size=(128, 128), max_size=64))
            epochs, seeds = 1, seeds[:1]
        ckpts = write_checkpoints(args.work_dir)
        results['mapping_totals'] = ckpts['totals']
        per_seed = {arm: [] for arm in ('mapped', 'random', 'seed')}
        for seed in seeds:
            for arm in per_seed:
                wd = osp.join(args.work_dir, f'{arm}_s{seed}')
                os.makedirs(wd, exist_ok=True)
                cfg = osp.join(wd, f'retinanet_{arm}.py')
                with open(cfg, 'w') as f:
                    f.write(arm_config(arm, ckpts, seed, tiny_data, epochs))
                t0 = time.time()
                subprocess.run([sys.executable, osp.join(ROOT, 'tools/train.py'), cfg,
                                '--work-dir', wd], check=True, cwd=ROOT)
                per_seed[arm].append(read_ap(wd))
                print(f'{arm} seed {seed}: AP {per_seed[arm][-1]:.4f} '
                      f'({time.time() - t0:.0f} s)', flush=True)
        for arm, aps in per_seed.items():
            results[f'ap_{arm}'] = sum(aps) / len(aps)
            results[f'ap_{arm}_per_seed'] = aps
        results['seeds'] = seeds
        results['mapped_over_seed'] = (results['ap_mapped'] / results['ap_seed']
                                       if results['ap_seed'] else None)
        results['tiny'] = args.tiny
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'mapping_quality.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(args.out, 'mapping_quality.md'), 'w') as f:
        f.write(to_markdown(results))
    print(to_markdown(results))


def to_markdown(r: dict) -> str:
    lines = ['# Weight mapping quality (demo data, generated — not COCO)', '',
             f"Command: `{r['command']}`", '']
    if 'ap_mapped' in r:
        lines += ['| start | bbox AP (mean) | per seed |', '|---|---|---|']
        for arm in ('mapped', 'seed', 'random'):
            lines.append(f"| {arm} | {r[f'ap_{arm}']:.4f} | "
                         f"{', '.join(f'{v:.4f}' for v in r[f'ap_{arm}_per_seed'])} |")
        t = r['mapping_totals']
        lines += ['', f"Mapping: {t['copied_fraction']:.3f} of the target's entries copied, "
                  f"{t['seed_used_fraction']:.3f} of the seed's used; rules {t['rules']}", '']
    lines += [f"Real-photo agreement with the seed ({r['real_photos']['images']} photos, "
              'before training):', '',
              '| target | top-1 | top-5 | max rel. logit diff | copied |', '|---|---|---|---|---|']
    for name, row in r['real_photos']['targets'].items():
        lines.append(f"| {name} | {row['top1']:.3f} | {row['top5']:.3f} | "
                     f"{row['max_rel_diff']:.1e} | {row['copied_fraction']:.3f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
