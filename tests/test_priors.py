"""The prior axis: N(0, I) (the course's, unchanged) and the VampPrior (learned pseudo-inputs),
its math, training, files, exact resume, sweeps, the CLI and the form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import (RESUME, assert_image, assert_same_run, draw_seven, grid_shape, make_draw,
                     make_panel, stop_save_load, straight, train_config, wait_drawn)
from latent_explorer.explorer.views.training_form import TrainingForm, config_from_values
from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.latent_priors import gaussian_kl, gaussian_log_prob
from latent_explorer.models.priors import prior_names
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.sequential import SequentialMembers
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.metrics.evaluate import evaluate, importance_weighted_bound, rate_distortion
from latent_explorer.training.record.checkpoint import checkpoint_of, load_checkpoint, save_checkpoint


def vamp_model(k: int = 7, nz: int = 3, arch: str = "mlp", seed: int = 0):
    return build_model(ModelConfig(kind="vae", nz=nz, hidden=(16,), prior="vamp",
                                   pseudo_inputs=k, arch=arch),
                       torch.Generator().manual_seed(seed))


def test_the_course_prior_is_the_default_and_leaves_files_as_they_were():
    assert prior_names()[:2] == ("normal", "vamp")
    assert TrainConfig().prior == "normal" and ModelConfig().prior == "normal"
    m = build_model(ModelConfig(nz=3, hidden=(16,)), torch.Generator().manual_seed(0))
    assert not [k for k in m.state_dict() if k.startswith("prior")]
    assert "prior" not in m.config.to_dict() and "prior" not in TrainConfig().to_dict()
    old = {k: v for k, v in ModelConfig().to_dict().items()}
    assert ModelConfig.from_dict(old).prior == "normal"  # a file from before priors
    # N(0, I) draws exactly what the code before priors drew: randn((n, nz), generator).
    got = m.sample_prior(5, 0.7, torch.Generator().manual_seed(3))
    assert torch.equal(got, torch.randn((5, 3), generator=torch.Generator().manual_seed(3)) * 0.7)
    noise = torch.randn(4, 3)
    assert torch.equal(m.prior_codes(noise), noise)


@pytest.mark.parametrize("kind,match", [("cvae", "unconditional"), ("ae", "has no prior")])
def test_a_vampprior_is_refused_where_it_does_not_apply(kind, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(kind=kind, prior="vamp")
    with pytest.raises(ValueError, match="pseudo-inputs"):
        TrainConfig(prior="vamp", pseudo_inputs=0)
    with pytest.raises(ValueError, match="unknown prior"):
        TrainConfig(prior="flow")


def test_vamp_log_prob_is_the_mixture_of_the_pseudo_input_posteriors():
    m = vamp_model(k=5)
    z = torch.randn(11, 3)
    with torch.no_grad():
        post = m.encode(torch.sigmoid(m.prior.pseudo_logits))
        per = torch.stack([gaussian_log_prob(z, post.mean[k], post.log_sigma[k])
                           for k in range(5)], 1)
        want = torch.logsumexp(per, 1) - math.log(5)
        assert torch.allclose(m.log_prior(z), want, atol=1e-5)
        assert m.log_prior(z.view(11, 1, 3)).shape == (11, 1)


def test_a_one_component_vamp_kl_estimate_matches_the_gaussian_kl():
    """With K = 1 the prior is one Gaussian: the one-sample KL averages to the analytic KL
    between two Gaussians."""
    m = vamp_model(k=1, nz=2)
    with torch.no_grad():
        pm, pls = m.prior.components(m)
        mean, log_sigma = torch.tensor([[0.3, -0.2]]), torch.tensor([[-0.5, 0.1]])
        post = type(m.encode(torch.rand(1, 784)))(mean.repeat(20000, 1), log_sigma.repeat(20000, 1))
        mc = m.kl_to_prior(post, torch.Generator().manual_seed(0)).mean()
        var_q, var_p = torch.exp(2 * log_sigma), torch.exp(2 * pls)
        exact = (pls - log_sigma + (var_q + (mean - pm) ** 2) / (2 * var_p) - 0.5).sum()
        assert float(mc) == pytest.approx(float(exact), abs=0.03)
        # The estimate is not the standard-normal KL (the prior really changed).
        assert abs(float(exact) - float(gaussian_kl(mean, log_sigma).sum())) > 0.05


def test_samples_and_timeline_codes_come_from_the_components():
    m = vamp_model(k=4, nz=3)
    with torch.no_grad():
        mean, log_sigma = m.prior.components(m)
        noise = torch.randn(8, 3)
        codes = m.prior_codes(noise)
        k = torch.arange(8) % 4
        assert torch.allclose(codes, mean[k] + log_sigma[k].exp() * noise)
        a = m.sample_prior(6, 1.0, torch.Generator().manual_seed(1))
        b = m.sample_prior(6, 1.0, torch.Generator().manual_seed(1))
        assert torch.equal(a, b) and a.shape == (6, 3)
        cold = m.sample_prior(2000, 0.0, torch.Generator().manual_seed(2))
        # T = 0: every sample is a component mean.
        assert all(torch.isclose(cold[:, None], mean[None]).all(-1).any(1))


def test_pseudo_inputs_start_as_distinct_training_images(small_dataset):
    r = Trainer(TrainConfig(prior="vamp", pseudo_inputs=12, nz=3, hidden=(16,), epochs=1,
                            device="cpu"), small_dataset)
    u = r.model.prior.pseudo_inputs().detach()  # before training: from fit_dataset at run
    assert torch.allclose(u, torch.full_like(u, 0.5))  # not yet: the run has not started
    result = r.run()
    assert result.state == "finished" and r.engine == "autograd"  # no hand-written KL step
    # Rebuild the start: the seed's draw of 12 distinct training images, off 0 and 1.
    fresh = vamp_model(k=12, nz=3)
    fresh.prior.init_from_data(small_dataset.train.images, torch.Generator().manual_seed(0))
    start = fresh.prior.pseudo_inputs()
    imgs = small_dataset.train.float_images().reshape(len(small_dataset.train), -1)
    match = [(imgs.clamp(0.02, 0.98) - start[k]).abs().amax(1).argmin().item() for k in range(12)]
    assert len(set(match)) == 12
    assert torch.allclose(start, imgs[match].clamp(0.02, 0.98), atol=1e-5)
    # Trained, they moved from there.
    assert not torch.allclose(result.model.prior.pseudo_inputs(), start, atol=1e-3)


def test_metrics_files_and_a_sweep_with_a_vampprior(small_dataset, tmp_path):
    c = TrainConfig(prior="vamp", pseudo_inputs=10, nz=4, hidden=(32,), epochs=2, device="cpu",
                    beta=0.01)
    trainer = Trainer(c, small_dataset)
    result = trainer.run()
    model = result.model
    assert np.isfinite(result.history.total).all()
    assert result.history.total[-10:].mean() < result.history.total[:10].mean()
    m = evaluate(model, small_dataset.test)
    assert math.isfinite(m.kl) and m.kl > 0
    assert importance_weighted_bound(model, small_dataset.test, k=1) == pytest.approx(
        m.neg_elbo, abs=1e-9)
    assert importance_weighted_bound(model, small_dataset.test, k=20) <= m.neg_elbo + 0.5
    rd = rate_distortion(model, small_dataset.test)
    assert rd.rate == pytest.approx(m.kl) and rd.kl_per_dim == ()
    usage = explore.dimension_usage(explore.encode_split(model, small_dataset.test))
    assert usage.measure == "variance"
    # The file keeps the prior and its pseudo-inputs; the loaded model samples the same.
    path = save_checkpoint(tmp_path / "v.safetensors", checkpoint_of(trainer, result, "v"))
    back = load_checkpoint(path)
    assert back.train_config.prior == "vamp" and back.train_config.pseudo_inputs == 10
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(back.model.sample(4, generator=g()), model.sample(4, generator=g()))
    # A sweep of VampPrior members steps them one after another, the first its single run.
    sweep = SweepConfig(betas=(0.01, 0.1), seeds=(0,), nz=4, hidden=(32,), epochs=2,
                        device="cpu", prior="vamp", pseudo_inputs=10)
    st = SweepTrainer(sweep, small_dataset)
    assert isinstance(st.members, SequentialMembers)
    got = st.run().results[0]
    np.testing.assert_array_equal(got.history.total, result.history.total)


def test_resume_with_a_vampprior_is_bit_exact(mnist600, tmp_path):
    c = train_config(RESUME, prior="vamp", pseudo_inputs=6)
    full_t, full = straight(c, mnist600)
    _, first, ck = stop_save_load(c, mnist600, tmp_path, 17)
    assert first.state == "stopped"
    trainer = Trainer.from_checkpoint(ck, 4, mnist600)
    assert_same_run(full_t, full, trainer, trainer.run())


def test_the_cli_trains_a_vampprior_and_refuses_a_cvae_one(tmp_path, capsys):
    out = tmp_path / "v.safetensors"
    rc = run_cli(["train", "--model", "vae", "--prior", "vamp", "--pseudo-inputs", "8", "--nz",
                  "4", "--hidden", "16", "--epochs", "1", "--dataset", "mnist-sample", "--quiet",
                  "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "(VampPrior, K = 8)" in err
    assert load_checkpoint(out).model.prior.n_components == 8
    rc = run_cli(["train", "--model", "cvae", "--prior", "vamp", "--epochs", "1",
                  "--out", str(tmp_path / "c.safetensors")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "unconditional" in err


def test_the_form_offers_the_prior_for_a_vae_only(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.show()
    control = form.prior
    assert control.combo.currentData() == "normal" and control.k.isHidden()
    control.combo.setCurrentIndex(control.combo.findData("vamp"))
    assert not control.k.isHidden()
    control.k.setValue(50)
    with qtbot.waitSignal(form.train_requested, timeout=1000) as sig:
        form.train_button.click()
    c = config_from_values(sig.args[0])
    assert (c.prior, c.pseudo_inputs) == ("vamp", 50)
    form.kind.setCurrentIndex(form.kind.findData("cvae"))  # a CVAE cannot: back to N(0, I)
    assert not control.combo.isEnabled() and control.combo.currentData() == "normal"
    assert "unconditional" in control.toolTip()
    form.kind.setCurrentIndex(form.kind.findData("vae"))
    assert control.combo.isEnabled()
    form.set_values({"prior": "vamp", "pseudo_inputs": 40})  # remembered between launches
    assert control.value() == ("vamp", 40)
    form.set_values({"prior": "nonsense", "pseudo_inputs": -3})
    assert control.value() == ("normal", 300)


def test_the_prior_panel_and_latent_map_take_a_vampprior_run(qtbot, small_dataset):
    from latent_explorer.explorer.panels.latent_map import LatentMapPanel
    from latent_explorer.explorer.panels.prior import PriorPanel
    from latent_explorer.training.record.run import Run

    c = TrainConfig(prior="vamp", pseudo_inputs=10, nz=4, hidden=(32,), epochs=1, device="cpu")
    r = Trainer(c, small_dataset).run()
    run = Run("vamp", c, r.model, r.history, state="finished", dataset=small_dataset)
    prior = make_panel(qtbot, PriorPanel, [run], run)
    assert_image(prior.views[0], grid_shape(4, 4))
    assert "VampPrior (10 pseudo-inputs" in prior.captions[0].text()
    assert "N(0," not in prior.captions[0].text()
    latent = make_panel(qtbot, LatentMapPanel, [run], run, show=True)
    assert_image(latent.preview, grid_shape(1, 2))
    assert "a VampPrior has no KL per dimension" in latent.traversal_caption.text()
    draw = make_draw(qtbot, [run], run)  # drawing your own digit into it
    draw_seven(qtbot, draw.canvas)
    wait_drawn(qtbot, draw)
    assert not draw.message.isVisible()
    assert np.isfinite(draw.recon_view.grid).all()


def test_the_run_list_and_captions_name_the_architecture_and_prior(qtbot, small_dataset):
    from latent_explorer.explorer.panels.base import run_caption
    from PySide6.QtCore import Qt

    from latent_explorer.explorer.views.run_table import COL_KIND, RunTable, RunTableModel
    from latent_explorer.training.record.run import Run

    from latent_explorer.training.record.history import History

    course = Run("c", TrainConfig(), None, History())
    conv = Run("v", TrainConfig(arch="conv", prior="vamp"), None, History())
    assert course.model_label == "VAE" and conv.model_label == "VAE · Conv · VampPrior"
    assert "(VAE · Conv · VampPrior, β = 0.005" in run_caption(conv)
    model = RunTableModel()
    table = RunTable(model)
    qtbot.addWidget(table)
    model.add_run(course, "#1f77b4")
    model.add_run(conv, "#ff7f0e")
    cells = [model.index(r, COL_KIND) for r in range(2)]
    assert [model.data(i, Qt.ItemDataRole.DisplayRole) for i in cells] == [
        "VAE", "VAE · Conv · VampPrior"]
    assert model.data(cells[1], Qt.ItemDataRole.ToolTipRole) == "VAE · Conv · VampPrior"
