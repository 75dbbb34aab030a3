"""File names: sweep members named by one function for the CLI and the window; runs in plain ASCII."""

from __future__ import annotations

from latent_explorer.training.config import TrainConfig
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.metrics.sweep_report import member_file_names


def test_target_rate_members_are_named_by_their_target_not_their_beta():
    cfg = SweepConfig(kind="vae", betas=(0.005,), seeds=(0,), target_rates=(5.0, 10.0, 20.0))
    configs = [cfg.member_config(m) for m in range(3)]
    # the β each ended with happens to be the same: the names must still differ
    names = member_file_names([(c, 0.005) for c in configs])
    assert names == ["vae-rate5-seed0.safetensors", "vae-rate10-seed0.safetensors",
                     "vae-rate20-seed0.safetensors"]


def test_beta_members_are_named_by_beta_and_seed():
    cfgs = [TrainConfig(kind="cvae", beta=b, seed=s) for b in (0.0, 0.01) for s in (0, 1)]
    assert member_file_names([(c, c.beta) for c in cfgs]) == [
        "cvae-beta0-seed0.safetensors", "cvae-beta0-seed1.safetensors",
        "cvae-beta0.01-seed0.safetensors", "cvae-beta0.01-seed1.safetensors"]


def test_two_alike_members_never_share_a_file():
    c = TrainConfig(kind="vae", beta=0.01, seed=0)
    names = member_file_names([(c, 0.01), (c, 0.01), (c, 0.01)])
    assert names == ["vae-beta0.01-seed0.safetensors", "vae-beta0.01-seed0-2.safetensors",
                     "vae-beta0.01-seed0-3.safetensors"]
    assert len(set(names)) == 3


def test_a_runs_file_name_is_plain_ascii_without_shell_characters():
    from latent_explorer.training.record.names import file_stem

    assert file_stem("VAE β=0.005 nz=32 #1") == "vae-beta0.005-nz32-1"
    assert file_stem("β-VAE R=10 nz=8 #12") == "beta-vae-r10-nz8-12"
    assert file_stem("Ünïcode ☃ run (copy)") == "unicode-run-copy"
    assert file_stem("β=") == "beta" and file_stem("☃ ☃") == "run"
