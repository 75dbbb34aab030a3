"""Training leaves busy cores to other programs: passive OpenMP waits when busy, --threads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from latent_explorer.training.cli.main import run_cli


@pytest.mark.parametrize("others, cpus, busy", [(0, 2, False), (1, 2, True), (2, 2, True),
                                                 (1, 8, False), (4, 8, True)])
def test_the_machine_is_busy_when_others_want_half_the_cores(others, cpus, busy):
    from latent_explorer.cpu_policy import machine_is_busy

    assert machine_is_busy(cpus, others=others) is busy


def test_a_machine_that_cannot_say_counts_as_quiet(monkeypatch):
    from latent_explorer import cpu_policy

    monkeypatch.setattr(cpu_policy, "others_running", lambda samples=5: None)  # not Linux
    assert cpu_policy.machine_is_busy(2) is False


def test_runnable_tasks_are_read_from_the_kernel():
    from latent_explorer.cpu_policy import others_running

    n = others_running()
    if sys.platform.startswith("linux"):  # /proc/loadavg: "0.50 0.40 0.30 running/total pid"
        assert isinstance(n, int) and n >= 0
    else:
        assert n is None


@pytest.mark.parametrize("user, busy, expected", [(None, True, "PASSIVE"), (None, False, None),
                                                  ("ACTIVE", True, "ACTIVE")])
def test_passive_waits_only_when_busy_and_the_user_said_nothing(monkeypatch, user, busy,
                                                                 expected):
    from latent_explorer import cpu_policy

    monkeypatch.setattr(cpu_policy, "machine_is_busy", lambda: busy)
    env = {} if user is None else {"OMP_WAIT_POLICY": user}
    assert cpu_policy.choose_wait_policy(env) == expected
    assert env.get("OMP_WAIT_POLICY") == expected


@pytest.mark.parametrize("env, busy, expected", [({}, True, 1), ({}, False, None),
                                                 ({"LATENT_EXPLORER_BUSY_THREADS": "0"}, True, None),
                                                 ({"LATENT_EXPLORER_BUSY_THREADS": "2"}, True, 2)])
def test_training_takes_one_thread_only_while_the_machine_is_busy(env, busy, expected):
    from latent_explorer.cpu_policy import training_threads

    assert training_threads(env, busy=busy) == expected


def test_the_window_trains_on_one_thread_when_busy_unless_the_form_says(monkeypatch):
    import torch

    from latent_explorer import cpu_policy
    from latent_explorer.explorer.session import worker_threads

    before = torch.get_num_threads()
    monkeypatch.setattr(worker_threads, "lower_worker_priority", lambda: None)
    monkeypatch.setattr(worker_threads, "WORKER_TORCH_THREADS", None)
    monkeypatch.setattr(worker_threads, "DEFAULT_TORCH_THREADS", 2)  # the suite runs on 1
    monkeypatch.setattr(cpu_policy, "machine_is_busy", lambda: True)
    try:
        worker_threads.prepare_worker_thread()
        assert torch.get_num_threads() == 1
        worker_threads.prepare_worker_thread(threads=3)
        assert torch.get_num_threads() == 3
        monkeypatch.setattr(cpu_policy, "machine_is_busy", lambda: False)
        worker_threads.prepare_worker_thread()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_the_policy_is_chosen_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = ("import os, sys\n"
            "import latent_explorer.training\n"
            "assert 'torch' not in sys.modules  # set before torch loads, or OpenMP ignores it\n"
            "from latent_explorer.cpu_policy import machine_is_busy\n"
            "print(os.environ.get('OMP_WAIT_POLICY'))\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("PASSIVE", "None")
    user = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                          capture_output=True, text=True, timeout=60)
    assert user.stdout.strip() == "ACTIVE"  # the user's own setting wins


def test_train_threads_sets_torchs_thread_count(tmp_path, capsys):
    assert torch.get_num_threads() == 1  # the suite's default
    rc = run_cli(["train", "--model", "ae", "--epochs", "1", "--nz", "2", "--hidden", "8",
                  "--dataset", "mnist-sample", "--threads", "2", "--quiet",
                  "--out", str(tmp_path / "ae.safetensors")])
    assert rc == 0 and (tmp_path / "ae.safetensors").is_file()
    assert torch.get_num_threads() == 2


def test_train_threads_refuses_zero(tmp_path, capsys):
    rc = run_cli(["train", "--model", "ae", "--threads", "0", "--out", str(tmp_path / "x")])
    assert rc == 2
    assert "argument --threads: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
