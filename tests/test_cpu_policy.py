"""Training leaves idle cores to other programs: passive OpenMP waits, a thread count to set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from latent_explorer.training.cli.main import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("env_value, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_package_asks_openmp_to_wait_passively_unless_the_user_said(env_value, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    code = ("import os, sys\n"
            "import latent_explorer.training\n"
            "assert 'torch' not in sys.modules  # set before torch loads, or OpenMP ignores it\n"
            "print(os.environ['OMP_WAIT_POLICY'])\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected


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
