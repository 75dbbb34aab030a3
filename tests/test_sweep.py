"""β sweeps trained at once: members reproduce their single runs, stay independent, fail alone,
and come out as ordinary models and checkpoints (pause and stop: tests/test_control.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from helpers import sweep_config
from latent_explorer.models import ModelConfig, build_model
from tolerances import ONE_PASS, assert_grads_close, assert_losses_close, assert_metric_close
from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_explorer.training.metrics.evaluate import evaluate
from latent_explorer.training.engine.fast_step import FastStep
from latent_explorer.training.engine.events import EpochEvent, LoopResult, Observer, StepsEvent
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.sweep import (COURSE_BETAS, MAX_MEMBERS, SweepConfig, SweepListError,
                                   SweepTrainer, log_grid, parse_betas, parse_seeds)
from latent_explorer.training.engine.sweep_step import StackedModel, SweepStep

pytestmark = pytest.mark.numerics

class Recorder(Observer):
    """Keeps every hook call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def on_train_start(self, trainer):
        self.calls.append(("on_train_start", (trainer,)))

    def on_steps(self, event):
        self.calls.append(("on_steps", (event,)))

    def on_epoch_end(self, event):
        self.calls.append(("on_epoch_end", (event,)))

    def on_member_failed(self, event):
        self.calls.append(("on_member_failed", (event.member, event.message)))

    def on_train_end(self, result):
        self.calls.append(("on_train_end", (result,)))

    def events(self, name: str) -> list:
        return [a[0] if len(a) == 1 else a for n, a in self.calls if n == name]


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- members are single runs ------------------------------------------------------------------
# A member's step is the single run's arithmetic, but its matmuls are batched (bmm, and one
# (B, in) x (in, M*out) product for the first layer) where the single run calls mm, so float32
# sums run in another order. They are compared by what they mean (tests/tolerances.py): one
# step's losses and gradients at a few ε, a run's losses and metrics at a tolerance that grows
# with the steps taken; never the weights after 100 Adam steps, which differ by ~1e-4 on some
# CPUs (Adam moves a weight with a near-zero gradient by ±lr whatever the rounding says).
@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_first_100_steps_match_single_runs(small_dataset, kind):
    cfg = sweep_config(kind=kind, epochs=10)  # 640 train images: 10 steps x 10 epochs
    result = SweepTrainer(cfg, small_dataset).run()
    assert result.state == "finished", result.error
    for m, (beta, seed) in enumerate(cfg.members()):
        single = Trainer(cfg.member_config(m), small_dataset).run()
        assert single.state == "finished"
        got, want = result.results[m].history, single.history
        assert len(got) == len(want) == 100
        for part in ("total", "recon", "kl"):
            assert_losses_close(getattr(got, part), getattr(want, part), f"β={beta} {part}")
        assert result.results[m].model.config.beta == beta
        assert_metric_close(result.results[m].metrics.neg_elbo, single.metrics.neg_elbo,
                            steps=100, what=f"β={beta} test -ELBO")


def test_each_member_starts_as_its_seeds_single_run():
    cfg = sweep_config(betas=(0.0, 0.1), seeds=(3, 11))
    trainer = SweepTrainer(cfg)
    assert cfg.members() == ((0.0, 3), (0.0, 11), (0.1, 3), (0.1, 11))
    for m, (beta, seed) in enumerate(cfg.members()):
        want = build_model(ModelConfig(kind="vae", nz=8, hidden=(64, 32), beta=beta),
                           torch.Generator().manual_seed(seed))
        assert same_state(state(trainer.member_model(m)), state(want))
    assert not same_state(state(trainer.member_model(0)), state(trainer.member_model(1)))


def test_batched_step_gives_each_member_its_own_loss_and_gradients():
    # Three members, two seeds (members 0 and 2 share seed 1's ε), a CVAE of three layers.
    cfg = ModelConfig(kind="cvae", nz=5, hidden=(30, 20, 10))
    betas, seeds = [0.0, 0.3, 2.5], [1, 2, 1]
    stacked = StackedModel.from_models(
        [build_model(cfg, torch.Generator().manual_seed(10 + m)) for m in range(3)])
    gens = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]
    step = SweepStep(stacked, betas, gens, [0, 1, 0])
    data = torch.Generator().manual_seed(5)
    x, y = torch.rand(33, 784, generator=data), torch.randint(0, 10, (33,), generator=data)
    got = step(x, y)
    assert got.shape == (3, 3)
    for m in range(3):
        ref = build_model(cfg, torch.Generator().manual_seed(10 + m))
        want = FastStep(ref, betas[m], torch.Generator().manual_seed(seeds[m]))(x, y)
        torch.testing.assert_close(got[:, m], want, **ONE_PASS)
        for (name, p), q in zip(ref.named_parameters(), stacked.params):
            assert_grads_close(q.grad[m], p.grad, f"member {m} {name}")


def test_members_are_independent(small_dataset):
    # Changing member 1's β must leave members 0 and 2 exactly where they were.
    a = SweepTrainer(sweep_config(betas=(0.005, 0.1, 1.0), epochs=2), small_dataset).run()
    b = SweepTrainer(sweep_config(betas=(0.005, 3.0, 1.0), epochs=2), small_dataset).run()
    for m in (0, 2):
        np.testing.assert_allclose(a.results[m].history.total, b.results[m].history.total,
                                   rtol=1e-6, atol=0)
    assert not np.allclose(a.results[1].history.total, b.results[1].history.total, rtol=1e-3)


def test_members_of_other_seeds_differ_in_init_and_noise(small_dataset):
    result = SweepTrainer(sweep_config(betas=(0.005,), seeds=(0, 1)), small_dataset).run()
    h0, h1 = (r.history.total for r in result.results)
    assert not np.allclose(h0, h1, rtol=1e-3)
    assert result.state == "finished"


# -- events -------------------------------------------------------------------------------------
@pytest.mark.parametrize("interval", [0.0, 1 / 30])
def test_events_cover_every_members_steps_exactly_once(small_dataset, interval):
    rec = Recorder()
    cfg = sweep_config(epochs=3)
    result = SweepTrainer(cfg, small_dataset, [rec], notify_interval=interval).run()
    names = [n for n, _ in rec.calls]
    assert names[0] == "on_train_start" and names[-1] == "on_train_end"
    assert names.count("on_epoch_end") == 3
    steps: list[StepsEvent] = rec.events("on_steps")
    nxt = 0
    for ev in steps:
        assert ev.first_step == nxt
        assert ev.recon.shape == ev.kl.shape == ev.total.shape == (3, ev.total.shape[1])
        assert ev.active == (True, True, True) and ev.total_steps == 30
        assert ev.last_step == (ev.epoch - 1) * ev.steps_per_epoch + ev.step_in_epoch - 1
        nxt = ev.last_step + 1
    assert nxt == 30
    for m in range(3):
        per_member = [ev.for_member(m) for ev in steps]
        assert all(isinstance(e, StepsEvent) for e in per_member)
        np.testing.assert_array_equal(np.concatenate([e.total[0] for e in per_member]),
                                      result.results[m].history.total)
    epochs: list[EpochEvent] = rec.events("on_epoch_end")
    assert [e.epoch for e in epochs] == [1, 2, 3] and [e.step for e in epochs] == [10, 20, 30]
    final = epochs[-1]
    for m in range(3):
        assert final.for_member(m).metrics == (result.results[m].metrics,)
        # the per-epoch metrics are the single-run evaluation of that member's weights (up to
        # summation order: the sweep evaluates in its group's single-threaded worker)
        want = evaluate(result.results[m].model, small_dataset.test)
        for f in ("bce", "neg_elbo", "kl"):
            assert_metric_close(getattr(final.metrics[m], f), getattr(want, f), what=f)
    assert rec.events("on_train_end") == [result]
    assert isinstance(result, LoopResult) and result.config == cfg


# -- failure ------------------------------------------------------------------------------------
def test_a_diverging_member_stops_alone_with_the_usual_message(small_dataset):
    rec = Recorder()
    trainer = SweepTrainer(sweep_config(betas=(0.005, 1e39, 1.0), epochs=2), small_dataset, [rec])
    before = state(trainer.member_model(1))
    result = trainer.run()
    assert result.state == "finished" and result.error is None
    ok, bad, ok2 = result.results
    assert ok.state == ok2.state == "finished" and len(ok.history) == len(ok2.history) == 20
    assert bad.state == "failed" and len(bad.history) == 0
    for words in ("training diverged at step 1 (epoch 1)", "beta (1e+39)",
                  "learning rate (0.002)", "the last good weights were kept"):
        assert words in bad.error
    assert same_state(state(bad.model), before)  # its weights never moved
    assert rec.events("on_member_failed") == [(1, bad.error)]
    epochs = rec.events("on_epoch_end")
    assert all(e.metrics[1] is None and e.for_member(1) is None for e in epochs)
    assert all(e.metrics[0] is not None for e in epochs)
    steps = rec.events("on_steps")
    assert all(not e.active[1] and np.isnan(e.total[1]).all() for e in steps)
    assert all(e.for_member(1) is None for e in steps)


def test_a_member_with_broken_weights_rolls_back_to_its_last_good_ones(small_dataset):
    # Corrupt member 1's weights between two steps: its next loss is NaN, so it must go back to
    # its snapshot (here its initial weights) while members 0 and 2 train on untouched.
    clean = SweepTrainer(sweep_config(epochs=2), small_dataset).run()

    class Corrupt(Observer):
        def __init__(self):
            self.trainer, self.done = None, False

        def on_train_start(self, trainer):
            self.trainer = trainer

        def on_steps(self, event):
            if not self.done and event.last_step >= 4:
                self.done = True
                with torch.no_grad():
                    self.trainer.model.params[-2].data[1].fill_(float("inf"))

    rec = Recorder()
    trainer = SweepTrainer(sweep_config(epochs=2), small_dataset, [Corrupt(), rec],
                           notify_interval=0.0)
    initial = state(trainer.member_model(1))
    result = trainer.run()
    assert result.state == "finished"
    bad = result.results[1]
    assert bad.state == "failed" and "step 6" in bad.error and "NaN" in bad.error
    assert len(bad.history) == 5 and np.isfinite(bad.history.total).all()
    assert same_state(state(bad.model), initial)
    assert all(torch.isfinite(p).all() for p in bad.model.parameters())
    for m in (0, 2):
        np.testing.assert_allclose(result.results[m].history.total,
                                   clean.results[m].history.total, rtol=1e-6)
    # the failure is told after the steps it had taken
    order = [n for n, _ in rec.calls]
    failed_at = order.index("on_member_failed")
    told = [e for n, (e, *_) in rec.calls[:failed_at] if n == "on_steps"]
    assert told[-1].member_steps[1] == 5


def test_a_sweep_whose_members_all_diverge_fails(small_dataset):
    rec = Recorder()
    result = SweepTrainer(sweep_config(betas=(1e39, 3e39)), small_dataset, [rec]).run()
    assert result.state == "failed"
    assert "every member failed" in result.error and "diverged" in result.error
    assert [r.state for r in result.results] == ["failed", "failed"]
    assert len(rec.events("on_member_failed")) == 2
    assert all(torch.isfinite(p).all() for r in result.results for p in r.model.parameters())


# -- results are ordinary models ----------------------------------------------------------------
def test_member_model_round_trips_through_a_checkpoint(small_dataset, tmp_path):
    cfg = sweep_config(kind="cvae", betas=(0.01, 0.5), epochs=2)
    result = SweepTrainer(cfg, small_dataset).run()
    for m, res in enumerate(result.results):
        path = tmp_path / f"m{m}.safetensors"
        save_checkpoint(path, Checkpoint(res.model, cfg.member_config(m), res.history,
                                         res.metrics, name=f"m{m}", dataset="mnist-small",
                                         state=res.state, group="sweep-1"))
        back = load_checkpoint(path)
        assert same_state(state(back.model), state(res.model))
        assert back.group == "sweep-1" and back.train_config == cfg.member_config(m)
        assert back.model.config.beta == cfg.members()[m][0]
        np.testing.assert_array_equal(back.history.total, res.history.total)
        assert back.metrics == res.metrics
        x = small_dataset.test.float_images(slice(0, 4))
        y = small_dataset.test.labels[:4]
        torch.testing.assert_close(back.model.reconstruct(x, y), res.model.reconstruct(x, y))
    # a member's model owns its weights: training more of the sweep would not move it
    assert all(p.untyped_storage().data_ptr() != q.untyped_storage().data_ptr()
               for p, q in zip(result.results[0].model.parameters(),
                               result.results[1].model.parameters()))


def test_a_plain_checkpoint_has_no_group(tmp_path):
    from latent_explorer.training.engine.loop import TrainConfig

    path = save_checkpoint(tmp_path / "x.safetensors",
                           Checkpoint(build_model(ModelConfig(kind="ae", nz=2, hidden=(8,))),
                                      TrainConfig(kind="ae", nz=2, hidden=(8,))))
    assert load_checkpoint(path).group == ""


# -- configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    ({"betas": ()}, "empty"),
    ({"betas": (0.1, -1.0)}, "beta must be a finite number >= 0, got -1"),
    ({"betas": (float("nan"),)}, "beta must be a finite number"),
    ({"betas": (float("inf"),)}, "beta must be a finite number"),
    ({"betas": ("abc",)}, "beta must be a finite number"),
    ({"betas": (0.1, 0.1)}, "duplicate beta 0.1"),
    ({"betas": (0.001, 1e-3)}, "duplicate beta"),
    ({"seeds": (0, 0)}, "duplicate seed 0"),
    ({"seeds": ()}, "seeds is empty"),
    ({"seeds": (-1,)}, "seed must be"),
    ({"betas": tuple(float(i) for i in range(13)), "seeds": (0, 1, 2, 3, 4)},
     "13 betas x 5 seeds = 65 members; at most 64"),
    ({"kind": "ae"}, "an AE has no beta to sweep"),
    ({"kind": "gan"}, "unknown model 'gan'"),
    ({"epochs": 0}, "epochs"),
    ({"lr": 0.0}, "learning rate"),
    ({"nz": 0}, "nz"),
    ({"batch_size": 0}, "batch size"),
])
def test_bad_sweep_configs_are_refused(kw, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("+", r"\+")):
        sweep_config(**kw)


def test_sixty_four_members_are_allowed():
    assert sweep_config(betas=tuple(float(i) for i in range(16)), seeds=(0, 1, 2, 3)).n_members \
        == MAX_MEMBERS == 64


def test_sweep_config_round_trips_and_names_its_members():
    cfg = sweep_config(kind="cvae", betas=(0.0, 0.1), seeds=(0, 5), data_dir="/x")
    d = cfg.to_dict()
    assert d["betas"] == [0.0, 0.1] and d["seeds"] == [0, 5] and d["hidden"] == [64, 32]
    assert SweepConfig.from_dict(d) == cfg
    assert SweepConfig.from_dict({**d, "from_the_future": 1}) == cfg
    tc = cfg.member_config(3)
    assert (tc.kind, tc.beta, tc.seed, tc.nz, tc.hidden, tc.lr, tc.data_dir) == \
        ("cvae", 0.1, 5, 8, (64, 32), 2e-3, "/x")


def test_default_grid_is_the_courses():
    assert SweepConfig().betas == COURSE_BETAS == log_grid(1e-4, 10)
    assert log_grid(1e-3, 1, per_decade=2, with_zero=False) == \
        (0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1.0)
    with pytest.raises(ValueError):
        log_grid(0.0, 1.0)


def test_parse_lists():
    assert parse_betas("0, 1e-4,1e-3") == (0.0, 1e-4, 1e-3)
    assert parse_seeds("0,1, 7") == (0, 1, 7)


@pytest.mark.parametrize("text, words", [
    ("", "empty"), (" , ", "empty"), ("0,abc", "'abc' is not a number"), ("0,-1", ">= 0"),
    ("0,nan", ">= 0"), ("0,inf", ">= 0"), ("0.1,1e-1", "listed twice"), ("1,,2", "empty item"),
])
def test_bad_beta_lists_say_which_item(text, words):
    with pytest.raises(SweepListError, match=words):
        parse_betas(text)


@pytest.mark.parametrize("text, words", [("", "empty"), ("0,x", "'x' is not a whole number"),
                                         ("1,1", "listed twice"), ("-3", "between")])
def test_bad_seed_lists_say_which_item(text, words):
    with pytest.raises(SweepListError, match=words):
        parse_seeds(text)


# -- member groups --------------------------------------------------------------------------------
def test_split_members_into_near_equal_groups():
    from latent_explorer.training.engine.sweep_step import split_members

    assert split_members(7, 2) == [(0, 3), (3, 7)]
    assert split_members(3, 5) == [(0, 1), (1, 2), (2, 3)]
    assert split_members(4, 1) == [(0, 4)]
    assert split_members(64, 2) == [(0, 32), (32, 64)]


def test_groups_of_members_train_like_one_group(small_dataset):
    cfg = sweep_config(betas=(0.0, 0.005, 0.1, 1.0), seeds=(0,), epochs=2)
    one = SweepTrainer(cfg, small_dataset, workers=1).run()
    three = SweepTrainer(cfg, small_dataset, workers=3).run()
    assert one.state == three.state == "finished"
    for a, b in zip(one.results, three.results):
        assert_losses_close(a.history.total, b.history.total, "one group vs three")


@pytest.mark.torch_threads(2)  # on one, restoring the count could not be told from not
def test_a_sweep_leaves_no_thread_and_restores_torchs_thread_count(small_dataset):
    before_threads = torch.get_num_threads()
    before = set(threading.enumerate())
    trainer = SweepTrainer(sweep_config(epochs=1), small_dataset, workers=3)
    assert trainer.workers == 3
    assert trainer.run().state == "finished"
    assert set(threading.enumerate()) == before
    assert torch.get_num_threads() == before_threads


def test_a_failing_member_in_a_helper_group_stops_alone(small_dataset):
    result = SweepTrainer(sweep_config(betas=(0.005, 0.1, 1e39), epochs=1), small_dataset,
                          workers=2).run()
    assert [r.state for r in result.results] == ["finished", "finished", "failed"]
    assert "step 1" in result.results[2].error


def test_a_member_continues_as_a_single_run_exactly_where_the_sweep_left_it(small_dataset,
                                                                             tmp_path):
    """A member's checkpoint carries its Adam slice and generator: continued alone, it trains on
    as the sweep would have (same weights, moments, batches and ε; up to float32 rounding of a
    single against a batched step), and a fresh optimizer visibly would not."""
    cfg = sweep_config(betas=(0.0, 0.005, 1.0), epochs=1)
    short = SweepTrainer(cfg, small_dataset)
    first = short.run()
    longer = SweepTrainer(sweep_config(betas=(0.0, 0.005, 1.0), epochs=2), small_dataset).run()
    m = 1
    state = short.resume_state(m)
    assert state is not None and state.exact and state.step == 10 and state.epochs_done == 1
    res = first.results[m]
    path = tmp_path / "member.safetensors"
    save_checkpoint(path, Checkpoint(res.model, cfg.member_config(m), res.history, res.metrics,
                                     name="member", dataset=small_dataset.name, group="g",
                                     resume=state))
    ckpt = load_checkpoint(path)
    assert ckpt.resume is not None and ckpt.resume.optimizer is not None
    cont = Trainer.from_checkpoint(ckpt, 2, small_dataset, record_timeline=False).run()
    assert cont.state == "finished" and len(cont.history) == 20
    want = longer.results[m].history
    assert_losses_close(cont.history.total[10:], want.total[10:], "continued member")
    # The control: the same weights with a fresh Adam drift away at once.
    fresh = load_checkpoint(path)
    fresh.resume = None
    cold = Trainer.from_checkpoint(fresh, 2, small_dataset, record_timeline=False).run()
    with pytest.raises(AssertionError):
        assert_losses_close(cold.history.total[10:], want.total[10:], "fresh Adam")
