"""Does weight mapping pay off? The same short RetinaNet fine-tune on the demo data from
(a) the seed mapped into an adapted MobileNetV2 (other widths, depths and kernels; default
rules, then the least-squares refit, in which the last block of a stage kept shallower
stands in for the dropped seed blocks), (a') the same map refitted and then distilled
(:func:`detnas.nas.mapping.distill_mapping`), (b) the same adapted architecture from random
init, (c) the seed itself.

Also measures, before any training, the top-1/top-5 agreement with the seed of several
mapped targets on the real photos bundled with scikit-image / scikit-learn.

Full run (3 seeds x 4 arms of configs/baselines/retinanet_mbv2_fpn_demo.py's schedule; the
training runs go through bench/demo_compare.py, so the seed arm is the baseline config itself):
    python bench/mapping_quality.py
Tiny check of the plumbing (1 seed, 1 epoch, 8 generated images; numbers meaningless):
    python bench/mapping_quality.py --tiny --out work_dirs/mapping_quality_tiny
Real-photo agreement only (minutes: the distillation runs first):
    python bench/mapping_quality.py --photos-only
Some arms only (here without the distillation, which then is not computed):
    python bench/mapping_quality.py --arms mapped seed random

Writes <out>/mapping_quality.json (``ap_mapped``, ``ap_mapped_distill``, ``ap_seed``,
``ap_random`` means, the per-seed values, the mapping report totals, the refit and
distillation statistics, the photo agreement) and mapping_quality.md. Finished runs are
reused (``<work-dir>/<arm>_seed<S>/record.json``); on a machine whose work dirs are gone,
``--restore-from bench/results/mapping_quality.json`` counts the fine-tunes recorded there as
finished (the mappings themselves are recomputed: they are deterministic); the mapped arms'
runs only when the file records the same mapping settings (``mapping_settings``: the
adapted arch, the calibration and the refit recipe), so a changed recipe is trained again.
Results are on generated demo data, not COCO.
"""
import argparse
import os
import os.path as osp
import sys

from detnas.experiments import (compare, ensure_demo_data, goal_verdict, paired_ratio,
                                recorded_runs, restore_runs)
from detnas.experiments.results import write_results

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
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
    'bench_adapted': (ADAPTED_ARCH, 32, 1280, {}),
}
CALIBRATION_IMAGES = 64  # demo training images (labels unused) for the least-squares refit
DISTILL_IMAGES = 160  # demo training images for the distillation (a fifth held out)
DISTILL_STEPS = 200


ARMS = ('mapped', 'mapped_distill')  # the arms whose weights come from the mapping
ALL_ARMS = ARMS + ('seed', 'random')
# the refit recipe; a change here invalidates saved mappings and recorded mapped runs
REFIT = dict(absorb_dropped=True)
GOAL = 0.9  # the issue's target: mapped AP >= 90 % of the seed's
LEVEL = 0.9  # coverage of the paired bootstrap interval of mapped / seed AP


def mapping_files(folder: str) -> dict:
    """arm -> (mmdet-named backbone checkpoint, mapping report JSON) under ``folder``."""
    return {arm: (osp.join(folder, f'{arm}_backbone.pth'), osp.join(folder, f'{arm}_report.json'))
            for arm in ARMS}


def mapping_settings(data_root: str, tiny: bool) -> dict:
    """What the saved mappings depend on besides the code: kept in their report meta and
    in the results JSON (a mapped run of another recipe is never restored)."""
    return dict(arch=ADAPTED_ARCH, data_root=osp.abspath(data_root),
                calibration_images=CALIBRATION_IMAGES, refit=REFIT,
                distill_images=8 if tiny else DISTILL_IMAGES,
                distill_steps=2 if tiny else DISTILL_STEPS)


def cached_mapping(folder: str, arm: str, settings: dict, target):
    """The mapping of ``arm`` a previous run of this bench saved in ``folder``, when it was
    made with ``settings`` (:func:`mapping_settings`) and fits ``target``; else None."""
    from detnas.nas.mapping import MappingResult
    files = mapping_files(folder)[arm]
    if not all(osp.isfile(f) for f in files):
        return None
    result = MappingResult.load(*files)
    if result.report.meta.get('bench_settings') != settings:
        return None
    try:
        target.load_state_dict(result.state_dict)
    except RuntimeError:  # saved for another adapted architecture
        return None
    print(f'reusing the {arm} mapping saved in {folder} (delete {files[0]} to recompute '
          'it)', flush=True)
    return result


def adapted_mappings(data_root: str, folder: str, arms=ARMS, tiny: bool = False) -> dict:
    """The seed mapped into the bench's adapted backbone: ``'mapped'`` (default rules, then
    the refit on the demo training images, dropped blocks absorbed) and
    ``'mapped_distill'`` (that, then distilled), for the arms asked for. Saved in
    ``folder`` (:func:`mapping_files`) and reused from there by the next run.

    Args:
        data_root: demo data; its training images calibrate the refit and distillation.
        folder: where the mappings are saved.
        arms: the mapping arms wanted (of :data:`ARMS`).
        tiny: the few-step distillation of ``--tiny``.

    Returns:
        arm -> :class:`~detnas.nas.mapping.MappingResult`.
    """
    import copy

    from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
    from detnas.nas.mapping import (calibration_images, distill_mapping, map_weights,
                                    refit_mapping, seed_backbone)
    target = AdaptedMobileNetV2(arch_setting=ADAPTED_ARCH, out_indices=OUT_INDICES)
    settings = mapping_settings(data_root, tiny)
    arms = [arm for arm in ARMS if arm in arms]
    mapped = {arm: cached_mapping(folder, arm, settings, target) for arm in arms}
    if all(mapped.values()):
        return mapped
    seed = seed_backbone(SEED)
    result = map_weights(SEED, target, target_state=target.state_dict())
    train_dir = osp.join(data_root, 'train')
    refit_mapping(result, seed, target,
                  calibration_images(train_dir, settings['calibration_images']), **REFIT)
    print(result.report.summary(), f"\nrefit: {result.report.meta['refit']}", flush=True)
    fresh = dict(mapped=result)
    if 'mapped_distill' in arms and mapped['mapped_distill'] is None:
        fresh['mapped_distill'] = copy.deepcopy(result)
        stats = distill_mapping(fresh['mapped_distill'], seed, target,
                                calibration_images(train_dir, settings['distill_images']),
                                steps=settings['distill_steps'])
        print(f'distill: {stats}', flush=True)
    os.makedirs(folder, exist_ok=True)
    for arm in arms:
        if mapped[arm] is None:
            mapped[arm] = fresh[arm]
            mapped[arm].report.meta['bench_settings'] = settings
            mapped[arm].save(*mapping_files(folder)[arm])
    return mapped


def photo_agreement(mapped: dict) -> dict:
    """Top-1/top-5 agreement with the seed of every :data:`PHOTO_TARGETS` entry, and of
    the bench's adapted target as mapped for the fine-tunes (``mapped``: arm -> result)."""
    from detnas.checkpoints import load_seed
    from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
    from detnas.nas.mapping import (MappingConfig, imagenet_logits, load_real_photos,
                                    map_weights, topk_agreement)
    seed = load_seed(SEED)
    photos = list(load_real_photos().values())
    ref = AdaptedMobileNetV2(out_indices=(7, ))
    ref.load_state_dict(seed.backbone)
    seed_logits = imagenet_logits(ref, seed.classifier, photos)
    targets = dict(PHOTO_TARGETS, **{f'bench_{arm}': PHOTO_TARGETS['bench_adapted']
                                     for arm in mapped})
    rows = {}
    for name, (arch, stem, last, cfg) in targets.items():
        target = AdaptedMobileNetV2(arch_setting=arch, stem_channels=stem,
                                    last_channels=last, out_indices=(len(arch), ))
        arm = name[len('bench_'):]
        result = mapped[arm] if arm in mapped else map_weights(
            seed, target, MappingConfig(**cfg), target_state=target.state_dict())
        target.load_state_dict(result.state_dict)
        agree = topk_agreement(seed_logits, imagenet_logits(target, result.classifier, photos))
        totals = result.report.totals()
        rows[name] = dict(agree, copied_fraction=totals['copied_fraction'],
                          seed_used_fraction=totals['seed_used_fraction'], config=cfg)
        print(f'{name:24s} top1 {agree["top1"]:.3f} top5 {agree["top5"]:.3f} '
              f'max_rel_diff {agree["max_rel_diff"]:.2e} copied '
              f'{totals["copied_fraction"]:.3f}', flush=True)
    return dict(images=len(photos), targets=rows)


def arm_config(arm: str, checkpoint, work_dir: str) -> str:
    """Writes the config of an arm on the adapted backbone (the baseline RetinaNet with the
    adapted MobileNetV2 initialised from ``checkpoint``, or at random when None) into
    ``work_dir``; returns its path."""
    widths = [ADAPTED_ARCH[i][1] for i in OUT_INDICES]
    init = f"dict(type='Pretrained', checkpoint={checkpoint!r})" if checkpoint else 'None'
    lines = [f'_base_ = {BASE_CONFIG!r}',
             'model = dict(',
             "    backbone=dict(_delete_=True, type='AdaptedMobileNetV2',",
             f'                  arch_setting={ADAPTED_ARCH},',
             f'                  out_indices={OUT_INDICES}, act_cfg=dict(type="ReLU6"),',
             "                  norm_cfg=dict(type='BN', requires_grad=True),",
             f'                  init_cfg={init}),',
             f'    neck=dict(in_channels={widths}))']
    path = osp.join(work_dir, f'retinanet_adapted_{arm}.py')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out', default=osp.join(ROOT, 'bench/results'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/mapping_quality'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/demo_coco'),
                        help='demo data (made when missing); its train images calibrate the '
                        'refit')
    parser.add_argument('--tiny', action='store_true',
                        help='1 seed, 1 epoch, 8 generated 128px images: checks the plumbing')
    parser.add_argument('--photos-only', action='store_true',
                        help='only the real-photo agreement (seconds once the mappings are '
                        'saved)')
    parser.add_argument('--finished-only', action='store_true',
                        help='the fine-tune table from the runs already finished; trains '
                        'nothing')
    parser.add_argument('--restore-from', metavar='RESULTS.json',
                        help='count the fine-tunes recorded in an earlier mapping_quality.json '
                        "(its 'runs') as finished where the work dir holds none; mapped runs "
                        'only when that file was made with the same mapping settings')
    parser.add_argument('--arms', nargs='+', choices=ALL_ARMS, default=list(ALL_ARMS),
                        help='which starts to fine-tune (default: all)')
    args = parser.parse_args()
    # demo_compare puts --tiny runs under <work-dir>_tiny: the mappings go there too
    files_dir = demo_work_dir(args)
    data_root = ensure_demo_data(osp.join(files_dir, 'data') if args.tiny else args.data_root,
                                 tiny=args.tiny)
    mapped = adapted_mappings(data_root, files_dir, {'mapped', *args.arms}, args.tiny)
    settings = mapping_settings(data_root, args.tiny)
    results = dict(data='demo (generated) — not COCO', command=' '.join(sys.argv),
                   mapping_settings=settings, real_photos=photo_agreement(mapped),
                   mapping_totals=mapped['mapped'].report.totals(),
                   refit=mapped['mapped'].report.meta['refit'])
    if 'mapped_distill' in mapped:
        results['distill'] = mapped['mapped_distill'].report.meta['distill']
    if not args.photos_only:
        seeds = args.seeds[:1] if args.tiny else args.seeds
        ckpts = mapping_files(files_dir)
        configs = dict(seed=BASE_CONFIG, **{arm: arm_config(arm, ckpts[arm][0], files_dir)
                                            for arm in mapped},
                       random=arm_config('random', None, files_dir))
        arms = {arm: configs[arm] for arm in ALL_ARMS if arm in args.arms}
        if args.restore_from:
            restore_runs(args.restore_from, recorded_runs(
                arms, seeds, files_dir, guarded=ARMS, settings_key='mapping_settings',
                settings=settings))
        compared = compare.main(
            [f'{arm}={cfg}' for arm, cfg in arms.items()]
            + ['--seeds', *map(str, seeds), '--data-root', data_root,
               '--work-dir', args.work_dir, '--out', osp.join(args.work_dir, 'compare')]
            + (['--tiny'] if args.tiny else [])
            + (['--finished-only'] if args.finished_only else []))
        for row in compared['rows']:
            results[f'ap_{row["name"]}'] = row['AP']
            results[f'ap_{row["name"]}_per_seed'] = row['AP_per_seed']
            results[f'seeds_{row["name"]}'] = row['seeds']
            results[f'params_{row["name"]}'] = row['params']
            results[f'gflops_{row["name"]}'] = row['gflops']
        results['runs'] = compared['runs']  # every fine-tune's record: --restore-from reads it
        results['seeds'] = compared['seeds']
        results['machine'] = compared['machine']
        for arm in (a for a in ARMS if a in arms and 'seed' in arms):
            results[f'{arm}_over_seed'] = (results[f'ap_{arm}'] / results['ap_seed']
                                           if results['ap_seed'] and results[f'ap_{arm}']
                                           is not None else None)
            results[f'{arm}_over_seed_paired'] = paired_ratio(compared['runs'], arm, 'seed',
                                                              LEVEL)
        results['tiny'] = args.tiny
    print(write_results(args.out, 'mapping_quality', results, to_markdown))


def demo_work_dir(args) -> str:
    """Where demo_compare keeps this bench's runs (``<work-dir>_tiny`` with ``--tiny``)."""
    return args.work_dir.rstrip('/') + '_tiny' if args.tiny else args.work_dir


def _interval_text(paired: dict) -> str:
    interval = paired.get('interval')
    return (f'; {LEVEL * 100:.0f} % paired bootstrap interval over seeds '
            f'{interval[0]:.2f}-{interval[1]:.2f}' if interval else '')


def to_markdown(r: dict) -> str:
    lines = ['# Weight mapping quality (demo data, generated — not COCO)', '',
             f"Command: `{r['command']}`", '']
    if 'ap_mapped' in r:
        lines += [f"Seeds {r['seeds']}; {r['machine']}.", '',
                  '| start | backbone | seeds | bbox AP (mean) | per seed | params (M) '
                  '| GFLOPs |', '|---|---|---|---|---|---|---|']
        arms = [a for a in ('mapped', 'mapped_distill', 'seed', 'random') if f'ap_{a}' in r]
        for arm in arms:
            backbone = 'seed MobileNetV2' if arm == 'seed' else 'adapted'
            mean = r[f'ap_{arm}']
            lines.append(f"| {arm} | {backbone} "
                         f"| {','.join(map(str, r.get(f'seeds_{arm}', r['seeds'])))} "
                         f"| {'n/a' if mean is None else f'{mean:.4f}'} | "
                         f"{', '.join(f'{v:.4f}' for v in r[f'ap_{arm}_per_seed'])} | "
                         f"{r[f'params_{arm}'] / 1e6:.2f} | {r[f'gflops_{arm}']:.2f} |")
        lines.append('')
        for arm in ('mapped', 'mapped_distill'):
            ratio, paired = r.get(f'{arm}_over_seed'), r.get(f'{arm}_over_seed_paired')
            if f'ap_{arm}' in r:
                lines.append(f"{arm} / seed AP: {'n/a' if ratio is None else f'{ratio:.2f}'}"
                             + (f" (on the same seeds {paired['seeds']}: "
                                f"{paired['ratio']:.2f}{_interval_text(paired)})"
                                if paired else '') + '  ')
                lines.append(f'goal {arm} / seed >= {GOAL:.2f}: '
                             f'{goal_verdict(paired, GOAL, LEVEL)}  ')
        t = r['mapping_totals']
        lines += ['', f"Mapping: {t['copied_fraction']:.3f} of the target's entries copied, "
                  f"{t['seed_used_fraction']:.3f} of the seed's used; rules {t['rules']}"]
        f = r['refit']
        lines += ['', f"Refit: {f['convs']} pointwise convs re-solved on {f['images']} demo "
                  f"training images; mean relative output error vs the seed conv "
                  f"{f['mean_err_before']:.3f} -> {f['mean_err_after']:.3f}"
                  + (f"; dropped seed blocks absorbed by the stage ends: {f['absorbed']}"
                     if f.get('absorbed') else ''), '']
        d = r.get('distill')
        if d:
            lines += [f"Distillation (mapped_distill, after the refit): {d['steps']} Adam steps "
                      f"on {d['images']} demo training images; mean relative stage-output "
                      f"error vs the seed on {d['heldout_images']} held-out images "
                      f"{d['err_before']:.3f} -> {d['err_after']:.3f} ({d['seconds']:.0f} s"
                      + ('; the error grew, so the refitted weights were kept)'
                         if d.get('reverted') else ')'),
                      '']
    lines += [f"Real-photo agreement with the seed ({r['real_photos']['images']} photos, "
              'before training):', '',
              '| target | top-1 | top-5 | max rel. logit diff | copied |', '|---|---|---|---|---|']
    for name, row in r['real_photos']['targets'].items():
        lines.append(f"| {name} | {row['top1']:.3f} | {row['top5']:.3f} | "
                     f"{row['max_rel_diff']:.1e} | {row['copied_fraction']:.3f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
