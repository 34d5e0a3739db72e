"""bench/safpn_seqhead_ablation.py --finished-only: the table from finished runs alone."""
import json

from helpers import run_tool

from detnas.utils.io import atomic_write_json


def _record(ap, ap_s):
    metrics = dict(AP=ap, AP50=2 * ap, AP75=ap / 2, AP_s=ap_s, AP_m=None, AP_l=ap)
    return dict(checkpoint='unused.pth', train_s=1.0, test_s=1.0, epochs=12, metrics=metrics)


def test_finished_only_reports_what_finished_and_pairs_deltas_by_seed(tiny_coco, tmp_path):
    work = tmp_path / 'runs'
    finished = {('baseline', 0): _record(0.30, 0.20), ('baseline', 1): _record(0.26, 0.10),
                ('safpn', 0): _record(0.27, 0.25)}  # safpn seed 1 never finished
    for (variant, seed), record in finished.items():
        atomic_write_json(str(work / f'fcos_{variant}_seed{seed}' / 'record.json'), record)
    (work / 'fcos_safpn_seed1').mkdir()  # an interrupted run leaves a folder, no record
    out = tmp_path / 'table'
    proc = run_tool(['bench/safpn_seqhead_ablation.py', '--finished-only', '--detectors',
                     'fcos', '--variants', 'baseline', 'safpn', '--seeds', '0', '1',
                     '--data-root', tiny_coco, '--work-dir', str(work), '--out', str(out),
                     '--shape', '128', '128', '--latency-runs', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '[fcos safpn seed 1] not finished: left out' in proc.stdout
    assert 'training' not in proc.stdout
    result = json.load(open(str(out) + '.json'))
    rows = {row['variant']: row for row in result['rows']}
    assert rows['baseline']['seeds'] == [0, 1] and rows['safpn']['seeds'] == [0]
    assert abs(rows['baseline']['AP'] - 0.28) < 1e-9
    assert abs(rows['baseline']['AP_std'] - 0.04 / 2 ** 0.5) < 1e-9
    # paired with baseline seed 0 only, not with the two-seed baseline mean
    assert abs(rows['safpn']['dAP'] - (0.27 - 0.30)) < 1e-9
    assert rows['safpn']['AP_m'] is None
    assert [r['seed'] for r in result['runs']] == [0, 0, 1]
    table = open(str(out) + '.md').read()
    assert 'finished runs only' in table
    assert '| fcos | FPN + parallel head | 0,1 | 28.0 ± 2.8 | - |' in table
    assert '| fcos | +SA-FPN | 0 | 27.0 | -3.0 |' in table
