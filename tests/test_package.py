"""The project installs as one import package, `latent_explorer`, and old files keep opening."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD_CHECKPOINT = ROOT / "tests" / "fixtures" / "vae-0.1.0-before-package.safetensors"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the tree, as `pip wheel .` builds it for users."""
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of what git tracks (setuptools builds inside the source folder, and a
    # checkout's stray files must not decide what the wheel holds)
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for rel in filter(None, tracked):
        if rel.startswith(("tests/", "benchmarks/")) or not (ROOT / rel).is_file():
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--quiet", "-w", str(out), str(src)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("latent_explorer-*.whl")
    return whl


@pytest.mark.slow
def test_the_wheel_installs_latent_explorer_alone(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"latent_explorer"}, sorted(tops)
    # every folder of the checkout's packages is in it, found rather than listed
    for folder in ("models", "training", "explorer"):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.relative_to(ROOT).as_posix()
            assert f"latent_explorer/{rel}" in names, rel
    assert "latent_explorer/training/data/mnist_5k.npz" in names  # the bundled digits
    assert "latent_explorer/__main__.py" in names
    # Help → User guide opens the installed copy: explorer/commands/help.py's parents[2]
    assert "latent_explorer/docs/user-guide.md" in names
    assert "latent_explorer/explorer/commands/help.py" in names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: MIT" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "latent-explorer = latent_explorer.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


@pytest.mark.slow
def test_a_users_own_models_package_is_theirs_beside_the_installed_one(wheel: Path,
                                                                      tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what pip puts in site-packages
    user = tmp_path / "project"
    for name in ("models", "training", "explorer"):  # a user's packages with our folders' names
        (user / name).mkdir(parents=True)
        (user / name / "__init__.py").write_text(f"class Net:\n    OWNER = 'user {name}'\n")
    (user / "main.py").write_text("OWNER = 'user main'\n")
    code = ("import models, training, explorer, main\n"
            "from models import Net\n"
            "assert Net.OWNER == 'user models' and main.OWNER == 'user main'\n"
            "assert training.Net.OWNER == 'user training' and explorer.Net.OWNER == 'user explorer'\n"
            "import latent_explorer.models.registry as reg\n"
            "assert reg.__file__.startswith(%r), reg.__file__\n"
            "print(sorted(reg.kind_names()))\n" % str(site))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(user), str(site)]),
           "PYTHONNOUSERSITE": "1"}
    # -S: no site-packages, so the editable install of this checkout cannot answer instead;
    # the only latent_explorer there is is the wheel's
    r = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "['ae', 'cvae', 'vae']"


@pytest.mark.slow
def test_python_dash_m_runs_the_entry_point() -> None:
    r = subprocess.run([sys.executable, "-m", "latent_explorer", "--version"], cwd=ROOT.parent,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("latent-explorer ")


def _header(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n])


def test_a_checkpoint_names_no_module_path() -> None:
    """Files hold data, not import paths: renaming the packages cannot break them."""
    text = json.dumps(_header(OLD_CHECKPOINT).get("__metadata__", {}))
    for old in ("models.", "training.", "explorer.", "latent_explorer"):
        assert old not in text, old


def test_a_file_written_before_the_package_rename_opens() -> None:
    import torch

    from latent_explorer.training.record.checkpoint import load_checkpoint

    ckpt = load_checkpoint(OLD_CHECKPOINT)
    cfg = ckpt.train_config
    assert (cfg.kind, cfg.nz, tuple(cfg.hidden)) == ("vae", 4, (8,))
    assert len(ckpt.history.total) == 2 * 4  # 2 epochs of 4 steps, as written
    assert ckpt.resume is not None  # exact resume still possible
    with torch.no_grad():
        out = ckpt.model(torch.zeros(3, 784))
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape[0] == 3 and torch.isfinite(first).all()
