"""detnas.experiments.runner: the log of a running command is readable while it runs (the
main job's progress lines and ETA read it)."""
import sys
import threading
import time

import pytest

from detnas.experiments.runner import run_logged


def test_run_logged_writes_each_line_as_it_comes(tmp_path):
    log = tmp_path / 'run.log'
    code = "import time; print('epoch 1 done', flush=True); time.sleep(4); print('end')"
    runner = threading.Thread(target=run_logged, args=([sys.executable, '-c', code], str(log)))
    runner.start()
    deadline = time.time() + 3
    while 'epoch 1 done' not in (log.read_text() if log.is_file() else ''):
        assert time.time() < deadline, 'the first line is not in the log while the command runs'
        time.sleep(0.05)
    assert runner.is_alive() and 'end' not in log.read_text()
    runner.join()
    assert log.read_text() == 'epoch 1 done\nend\n'


def test_run_logged_names_the_log_when_the_command_fails(tmp_path):
    log = tmp_path / 'run.log'
    with pytest.raises(RuntimeError, match=r'exit 3\); see .*run\.log:\nboom'):
        run_logged([sys.executable, '-c', "print('boom'); raise SystemExit(3)"], str(log))
