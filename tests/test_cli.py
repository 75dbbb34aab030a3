"""The headless command line: train, eval, sample; user errors are one line, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer import main as main_mod
from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.metrics.evaluate import evaluate
from latent_explorer.training.engine.loop import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, small_dataset):
    """Small trained checkpoints of each kind, recorded as trained on mnist-sample."""
    folder = tmp_path_factory.mktemp("ckpts")
    out = {}
    for kind in ("ae", "vae", "cvae"):
        cfg = TrainConfig(kind=kind, epochs=1, batch_size=64, device="cpu", nz=8,
                          dataset="mnist-sample")
        r = train(cfg, small_dataset)
        out[kind] = save_checkpoint(folder / f"{kind}.safetensors",
                                    Checkpoint(r.model, cfg, r.history, r.metrics,
                                               name=f"tiny-{kind}", dataset="mnist-sample"))
    corrupt = folder / "corrupt.safetensors"
    raw = out["vae"].read_bytes()
    corrupt.write_bytes(raw[: len(raw) // 3])
    out["corrupt"] = corrupt
    return out


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = run_cli([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_one_line_error(rc: int, err: str) -> str:
    assert rc != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# -- train ------------------------------------------------------------------------------------
def test_train_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "vae1.safetensors"
    rc, stdout, err = cli(capsys, "train", "--model", "vae", "--epochs", "1",
                          "--dataset", "mnist-sample", "--out", out, "--device", "cpu",
                          "--batch-size", "512", "--nz", "16", "--beta", "0.01",
                          "--lr", "0.002", "--seed", "5", "--hidden", "128,32")
    assert rc == 0, err
    assert "Traceback" not in err
    assert "test: BCE/pixel" in stdout and "-ELBO" in stdout
    assert f"saved {out}" in stdout
    ck = load_checkpoint(out)
    assert ck.model.config.kind == "vae" and ck.model.config.nz == 16
    assert ck.model.config.beta == 0.01 and ck.model.config.hidden == (128, 32)
    assert ck.model.encoder[0].out_features == 128 and ck.model.decoder[-1].in_features == 128
    tc = ck.train_config
    assert (tc.epochs, tc.batch_size, tc.lr, tc.seed, tc.dataset) == \
        (1, 512, 0.002, 5, "mnist-sample")
    assert len(ck.history) == 9  # ceil(4,500 / 512)
    assert [e.epoch for e in ck.history.epochs] == [1]
    assert ck.metrics is not None and ck.metrics.n == 500
    assert ck.dataset == "mnist-sample" and ck.name == "vae1" and ck.state == "finished"


def test_train_timings_say_where_the_time_went(capsys, tmp_path):
    import re

    rc, stdout, err = cli(capsys, "train", "--model", "vae", "--epochs", "2", "--dataset",
                          "mnist-sample", "--out", tmp_path / "t.safetensors", "--device", "cpu",
                          "--batch-size", "512", "--nz", "4", "--hidden", "32", "--quiet",
                          "--timings")
    assert rc == 0, err
    line = err.strip().splitlines()[-1]
    m = re.fullmatch(r"time: start-up ([\d.]+) s \(Python, torch and the project\), data ([\d.]+) s, "
                     r"training ([\d.]+) s \(steps ([\d.]+) s, test evaluation ([\d.]+) s, "
                     r"timeline ([\d.]+) s\), save ([\d.]+) s; total ([\d.]+) s; "
                     r"(\d+) torch thread\(s\), OpenMP waits (passive|active|spinning)", line)
    assert m, line
    start, data, train, steps, ev, tl, save, total = map(float, m.groups()[:8])
    assert int(m.group(9)) == torch.get_num_threads()  # what trained, said
    assert ev > 0 and tl > 0 and steps > 0  # two evaluations, a timeline, 18 steps
    assert steps + ev + tl == pytest.approx(train, abs=0.02)
    # in-process here, so "start-up" is the time since this test process began: at least
    # the rest, and the parts never exceed the total
    assert data + train + save <= total + 0.02 and start >= 0


# -- eval -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_eval_prints_the_test_metrics(ckpts, sample_dataset, capsys, kind):
    rc, stdout, err = cli(capsys, "eval", ckpts[kind], "--device", "cpu")
    assert rc == 0, err
    ck = load_checkpoint(ckpts[kind])
    expected = evaluate(ck.model, sample_dataset.test)  # the dataset it was trained on
    lines = stdout.strip().splitlines()
    assert lines[0].startswith(f"tiny-{kind} ({kind.upper()}) on mnist-sample")
    assert lines[-1] == f"test: {expected.summary()}"
    assert ("ELBO" in stdout) == (kind != "ae")


# -- sample -----------------------------------------------------------------------------------
def test_sample_npy(ckpts, tmp_path, capsys):
    out = tmp_path / "x.npy"
    rc, stdout, err = cli(capsys, "sample", ckpts["vae"], "--n", "5", "--out", out)
    assert rc == 0, err
    assert "wrote 5 samples" in stdout
    a = np.load(out)
    assert a.dtype == np.float32 and a.shape == (5, 1, 28, 28)
    assert a.min() >= 0.0 and a.max() <= 1.0
    model = load_checkpoint(ckpts["vae"]).model
    expected = model.sample(5, None, 1.0, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(a, expected, atol=1e-6)
    # same seed, same file; another seed, other samples; temperature 0, the decoded z = 0
    again, other, cold = tmp_path / "again.npy", tmp_path / "other.npy", tmp_path / "cold.npy"
    assert cli(capsys, "sample", ckpts["vae"], "--n", "5", "--out", again)[0] == 0
    assert cli(capsys, "sample", ckpts["vae"], "--n", "5", "--seed", "1", "--out", other)[0] == 0
    assert np.array_equal(np.load(again), a)
    assert not np.allclose(np.load(other), a)
    rc, _, err = cli(capsys, "sample", ckpts["vae"], "--n", "3", "--temperature", "0",
                     "--out", cold)
    assert_one_line_error(rc, err)  # temperature must be > 0


def test_sample_png(ckpts, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "grid.png"
    rc, _, err = cli(capsys, "sample", ckpts["ae"], "--n", "5", "--out", out)
    assert rc == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as im:
        im.load()
        assert im.format == "PNG" and im.mode == "L"
        # 5 images -> 3 columns x 2 rows of 28 px with 2 px padding, scaled 2x
        assert im.size == ((3 * 30 + 2) * 2, (2 * 30 + 2) * 2)


def test_cvae_needs_a_label_and_vae_refuses_one(ckpts, tmp_path, capsys):
    out = tmp_path / "c.npy"
    rc, _, err = cli(capsys, "sample", ckpts["cvae"], "--n", "5", "--out", out)
    assert "--label" in assert_one_line_error(rc, err)
    assert not out.exists()
    rc, _, err = cli(capsys, "sample", ckpts["cvae"], "--n", "5", "--label", "3", "--out", out)
    assert rc == 0, err
    model = load_checkpoint(ckpts["cvae"]).model
    expected = model.sample(5, 3, 1.0, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    v = tmp_path / "v.npy"
    rc, _, err = cli(capsys, "sample", ckpts["vae"], "--n", "5", "--label", "3", "--out", v)
    assert "label" in assert_one_line_error(rc, err)
    assert not v.exists()


# -- user errors ------------------------------------------------------------------------------
BAD = {
    "epochs 0": ["train", "--model", "vae", "--epochs", "0", "--out", "{tmp}/a.safetensors"],
    "beta -1": ["train", "--model", "vae", "--beta", "-1", "--out", "{tmp}/a.safetensors"],
    "hidden 0": ["train", "--model", "ae", "--hidden", "256,0", "--out", "{tmp}/a.safetensors"],
    "beta nan": ["train", "--model", "vae", "--beta", "nan", "--out", "{tmp}/a.safetensors"],
    "unknown model": ["train", "--model", "gan", "--out", "{tmp}/a.safetensors"],
    "out folder missing": ["train", "--model", "vae", "--out", "{tmp}/no/such/dir/a.safetensors"],
    "out is a folder": ["train", "--model", "vae", "--out", "{tmp}"],
    "unknown dataset": ["train", "--model", "vae", "--dataset", "cifar", "--out",
                        "{tmp}/a.safetensors"],
    "missing data dir": ["train", "--model", "vae", "--data-dir", "{tmp}/nowhere", "--out",
                         "{tmp}/a.safetensors"],
    "bad device": ["train", "--model", "vae", "--dataset", "mnist-sample", "--device", "quantum",
                   "--out", "{tmp}/a.safetensors"],
    "label 12": ["sample", "{cvae}", "--label", "12", "--out", "{tmp}/s.npy"],
    "label word": ["sample", "{cvae}", "--label", "seven", "--out", "{tmp}/s.npy"],
    "n 0": ["sample", "{vae}", "--n", "0", "--out", "{tmp}/s.npy"],
    "bad suffix": ["sample", "{vae}", "--out", "{tmp}/s.jpg"],
    "sample missing file": ["sample", "{tmp}/missing.safetensors", "--out", "{tmp}/s.npy"],
    "sample corrupt file": ["sample", "{corrupt}", "--out", "{tmp}/s.npy"],
    "sample seed overflow": ["sample", "{vae}", "--seed", str(2**70), "--out", "{tmp}/s.npy"],
    "train seed overflow": ["train", "--model", "vae", "--dataset", "mnist-sample", "--seed",
                            str(2**70), "--out", "{tmp}/a.safetensors"],
    "eval missing file": ["eval", "{tmp}/missing.safetensors"],
    "eval corrupt file": ["eval", "{corrupt}"],
    "eval bad device": ["eval", "{vae}", "--device", "quantum"],
    "unknown command": ["fly"],
    "no command": [],
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_on_stderr(ckpts, tmp_path, capsys, case):
    argv = [a.format(tmp=tmp_path, **{k: v for k, v in ckpts.items()}) for a in BAD[case]]
    rc, stdout, err = cli(capsys, *argv)
    assert_one_line_error(rc, err)
    assert rc == 2
    assert stdout == ""
    assert not (tmp_path / "a.safetensors").exists()
    assert not (tmp_path / "s.npy").exists()


def test_sample_into_a_missing_folder(ckpts, tmp_path, capsys):
    rc, _, err = cli(capsys, "sample", ckpts["vae"], "--n", "2", "--out", tmp_path / "no" / "s.npy")
    line = assert_one_line_error(rc, err)
    assert str(tmp_path / "no") in line


def test_error_messages_name_the_problem(ckpts, tmp_path, capsys):
    rc, _, err = cli(capsys, "train", "--model", "vae", "--epochs", "0", "--out", tmp_path / "a")
    assert "--epochs" in assert_one_line_error(rc, err)
    rc, _, err = cli(capsys, "sample", ckpts["cvae"], "--label", "12", "--out", tmp_path / "s.npy")
    assert "0 and 9" in assert_one_line_error(rc, err)
    rc, _, err = cli(capsys, "eval", ckpts["corrupt"])
    line = assert_one_line_error(rc, err)
    assert str(ckpts["corrupt"]) in line and "truncated" in line


def test_main_dispatches_to_the_cli(ckpts, tmp_path, capsys):
    out = tmp_path / "m.npy"
    assert main_mod.main(["sample", str(ckpts["ae"]), "--n", "2", "--out", str(out)]) == 0
    assert np.load(out).shape == (2, 1, 28, 28)
    assert main_mod.main(["eval", str(tmp_path / "none.safetensors")]) == 2
    assert_one_line_error(2, capsys.readouterr().err)


# -- a real process ---------------------------------------------------------------------------
def _python_main(*argv, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LATENT_EXPLORER_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, argv)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # a process
def test_python_main_py_as_a_process(ckpts, tmp_path):
    """The real entry point: a bad file is one line on stderr and status 2, no traceback."""
    bad = _python_main("sample", ckpts["corrupt"], "--n", "5", "--out", tmp_path / "p.npy",
                       tmp_path=tmp_path)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith("error: ") and "truncated" in bad.stderr
    assert bad.stdout == ""
    assert not (tmp_path / "p.npy").exists()


# -- the parser: help, version, defaults, the command registry -------------------------------
def _help_entries(text: str) -> dict[str, str]:
    """Each option of a --help text -> its whole (unwrapped) help, keyed by its first name."""
    entries: dict[str, str] = {}
    key = None
    body = text.split("\n\n", 2)[-1]  # after the usage block and the description
    for line in body.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            head = line.strip()
            key = head.split()[0].rstrip(",")
            entries[key] = head
        elif line.startswith("   ") and key is not None:
            entries[key] += " " + line.strip()
        else:
            key = None
    return entries


def test_every_option_of_every_command_shows_its_default(capsys):
    from latent_explorer.training.cli.commands import COMMANDS

    for name in COMMANDS:
        assert run_cli([name, "--help"]) == 0
        text = capsys.readouterr().out
        usage = text.split("\n\n", 1)[0]
        entries = _help_entries(text)
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage))
        assert options and options <= set(entries), (name, options - set(entries))
        for key, entry in entries.items():
            if key == "-h":
                continue
            entry = " ".join(entry.split())
            assert "(default: " in entry or "(required)" in entry, f"{name} {key}: {entry}"


def test_version(capsys):
    from importlib.metadata import version

    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"latent-explorer {version('latent-explorer')}"


def test_train_defaults_are_train_configs():
    from latent_explorer.training.cli.main import build_parser

    args = build_parser().parse_args(["train", "--model", "vae", "--out", "x.safetensors"])
    d = TrainConfig()
    assert (args.beta, args.nz, args.hidden, args.batch_size, args.lr, args.seed, args.device,
            args.dataset, args.compile) == (d.beta, d.nz, d.hidden, d.batch_size, d.lr, d.seed,
                                            d.device, d.dataset, d.compile)
    assert args.epochs is None  # follows the dataset


def test_model_and_dataset_choices_come_from_the_registries(capsys):
    from latent_explorer.models.registry import list_kinds
    from latent_explorer.training.data.sources import list_sources

    assert run_cli(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for k in list_kinds():
        assert " ".join(k.description.split()) in text
    for s in list_sources():
        assert " ".join(s.label.split()) in text
    rc, _, err = cli(capsys, "train", "--model", "vae", "--dataset", "cifar", "--out", "x")
    assert "kmnist" in assert_one_line_error(rc, err)


def test_epochs_follow_the_dataset(tmp_path, capsys, monkeypatch, small_dataset):
    import latent_explorer.training.data.sources as sources

    monkeypatch.setattr(sources, "COURSE_STEPS", 6)  # a budget this test can afford
    monkeypatch.setattr(sources, "MIN_EPOCHS_LARGE", 1)
    tiny = sources.DataSource("tiny", "tiny", "640 digits", lambda **kw: small_dataset,
                              sources.DIGITS, downloads=False, n_train=640)
    monkeypatch.setitem(sources.DATA_SOURCES, "tiny", tiny)
    out = tmp_path / "e.safetensors"
    rc, _, err = cli(capsys, "train", "--model", "ae", "--dataset", "tiny", "--batch-size", "256",
                     "--nz", "4", "--hidden", "16", "--device", "cpu", "--quiet", "--out", out)
    assert rc == 0, err
    ck = load_checkpoint(out)
    assert ck.train_config.epochs == sources.default_epochs(640, 256) == 2
    assert len(ck.history) == 6 and "2 epochs (6 steps)" in err


def test_a_new_command_is_one_registry_line(tmp_path, monkeypatch, capsys):
    import latent_explorer.training.cli.commands as commands

    (tmp_path / "hello_cmd.py").write_text(
        "def add_arguments(p):\n"
        "    p.add_argument('--name', default='world', help='who')\n"
        "def run(args):\n"
        "    print(f'hello {args.name}')\n"
        "    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(commands.COMMANDS, "hello", ("say hello", "hello_cmd"))
    rc, out, err = cli(capsys, "hello", "--name", "you")
    assert (rc, out) == (0, "hello you\n"), err
    assert run_cli(["--help"]) == 0
    assert "say hello" in capsys.readouterr().out


@pytest.mark.slow  # a process
def test_help_and_version_do_not_load_torch():
    code = ("import sys\n"
            "from latent_explorer.training.cli.main import run_cli\n"
            "codes = [run_cli(a) for a in (['--help'], ['--version'], ['train', '--help'])]\n"
            "sys.exit(10 if 'torch' in sys.modules else max(codes))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
