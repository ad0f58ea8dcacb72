"""The config system: presets, overrides, recipes and one-line errors naming the problem."""

from __future__ import annotations

import typing

import pytest

from gankit.config import ObjectiveName, build_config, load_preset, preset_names
from gankit.errors import UserError


def _error(preset: str, *overrides: str) -> str:
    with pytest.raises(UserError) as info:
        build_config(load_preset(preset), list(overrides))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_every_preset_validates_with_every_objective():
    """...except the combinations that make no sense, which are refused with a reason."""
    for name in preset_names():
        if name == "goodfellow-1d":
            continue  # its SGD recipe is the paper's, checked below
        raw = load_preset(name)
        log_loss_only = {"label_smoothing", "semi_supervised"} & set(raw.get("techniques", {}))
        for objective in typing.get_args(ObjectiveName):
            d = build_config(raw).model.d
            if objective == "wgan-gp" and (d.minibatch is not None or getattr(d, "norm", None) == "batch"):
                with pytest.raises(UserError, match="does not combine with objective.name=wgan-gp"):
                    build_config(raw, [f"objective.name={objective}"])
                continue
            if objective == "wgan" and d.spectral_norm:
                with pytest.raises(UserError, match="does not combine with objective.name=wgan: its weight clipping"):
                    build_config(raw, [f"objective.name={objective}"])
                continue
            if log_loss_only and objective not in ("minimax", "non-saturating"):
                with pytest.raises(UserError, match="has none \\(use one of minimax, non-saturating\\)"):
                    build_config(raw, [f"objective.name={objective}"])
                continue
            cfg = build_config(raw, [f"objective.name={objective}"])
            assert cfg.objective.name == objective


def test_presets_required_by_the_issues_exist():
    assert {
        "goodfellow-1d", "toy-ring8", "toy-grid25", "toy-swissroll",
        "improved-gan-fashion", "ssl-mnist-100", "ssl-fashion-100",
    } <= set(preset_names())


def test_objective_recipes_fill_unset_optimizers():
    raw = {"data": {"name": "grid"}, "train": {"steps": 10}}
    wgan = build_config(raw, ["objective.name=wgan"])
    assert wgan.optim.d.name == "rmsprop" and wgan.optim.d.lr == 5e-5
    assert wgan.train.d_steps == 5 and wgan.objective.clip == 0.01
    gp = build_config(raw, ["objective.name=wgan-gp"])
    assert gp.optim.g.name == "adam" and gp.optim.g.lr == 1e-4 and gp.optim.g.betas == (0.0, 0.9)
    assert gp.objective.gp_weight == 10.0 and gp.train.d_steps == 5


def test_a_preset_lr_keeps_the_recipe_optimizer():
    """The toy presets set only lr: each objective still brings its optimizer, betas and k."""
    wgan = build_config(load_preset("toy-grid25"), ["objective.name=wgan"])
    assert wgan.optim.d.name == "rmsprop" and wgan.optim.d.lr == 1.5e-3 and wgan.train.d_steps == 5
    gp = build_config(load_preset("toy-grid25"), ["objective.name=wgan-gp"])
    assert gp.optim.g.betas == (0.0, 0.9) and gp.optim.g.lr == 1.5e-3


def test_partial_optimizer_override_keeps_the_recipe_for_the_rest():
    cfg = build_config(load_preset("toy-grid25"), ["objective.name=wgan-gp", "optim.d.lr=3e-4"])
    assert cfg.optim.d.name == "adam" and cfg.optim.d.lr == 3e-4 and cfg.optim.d.betas == (0.0, 0.9)


def test_goodfellow_preset_keeps_its_sgd_and_k():
    cfg = build_config(load_preset("goodfellow-1d"), ["train.d_steps=3"])
    assert cfg.optim.d.name == "sgd" and cfg.optim.d.momentum > 0 and cfg.train.d_steps == 3
    assert cfg.objective.name == "minimax"


def test_override_values_parse_as_yaml():
    cfg = build_config(load_preset("toy-ring8"), ["model.g.hidden=[8, 4]", "optim.g.lr=1e-3", "train.ema=0.99"])
    assert cfg.model.g.hidden == [8, 4] and cfg.optim.g.lr == 1e-3 and cfg.train.ema == 0.99


def test_an_empty_preset_name_is_unknown(cli, tmp_path):
    code, _, err = cli("train", "--preset", "", "--out", tmp_path / "r")
    assert code == 2 and "unknown preset ''" in err and not (tmp_path / "r").exists()


def test_unknown_preset_suggests_nearest():
    with pytest.raises(UserError, match=r"unknown preset 'toy-grid52'.*did you mean 'toy-grid25'"):
        load_preset("toy-grid52")


def test_unknown_key_suggests_nearest():
    assert "did you mean 'steps'" in _error("toy-grid25", "train.stesp=10")
    assert "unknown key 'train.stesp'" in _error("toy-grid25", "train.stesp=10")


def test_unknown_key_inside_data_section_suggests_from_that_source():
    message = _error("toy-grid25", "data.spacng=3")
    assert "unknown key 'data.spacng'" in message and "did you mean 'spacing'" in message


def test_unknown_objective_suggests_nearest():
    message = _error("toy-grid25", "objective.name=wgan-pg")
    assert "objective.name" in message and "wgan-gp" in message


def test_unknown_data_source_is_named():
    message = _error("toy-grid25", "data.name=grid3d")
    assert "grid3d" in message and "grid" in message


def test_wrong_type_and_out_of_range_values():
    assert "train.steps" in _error("toy-grid25", "train.steps=many")
    assert "train.batch_size" in _error("toy-grid25", "train.batch_size=0")
    assert "data.std" in _error("toy-grid25", "data.std=-1")
    assert "log.eval_samples" in _error("toy-grid25", "log.eval_samples=100")
    assert "betas" in _error("toy-grid25", "optim.g.betas=[1.5, 0.9]")


def test_objective_options_that_make_no_sense_are_refused():
    assert "objective.clip applies only to objective.name=wgan" in _error(
        "toy-grid25", "objective.clip=0.05"
    )
    assert "gp_weight applies only" in _error("toy-grid25", "objective.name=hinge", "objective.gp_weight=1")
    assert "D returns logits" in _error("toy-grid25", "model.d.output=sigmoid")
    # Virtual batch norm's reference batch, set for a net without it, would be silently ignored.
    assert "reference_batch applies to norm=virtual-batch only, not norm=batch" in _error(
        "dcgan-fashion", "model.g.reference_batch=32"
    )
    assert "model.d: reference_batch applies to norm=virtual-batch only" in _error(
        "dcgan-fashion", "model.d.reference_batch=32"
    )


def test_the_default_reference_batch_spelt_out_keeps_the_fingerprint():
    """Runs saved when 64 was reference_batch's default hold it spelt out; they must hash (and so
    resume) as before, while another size is another configuration."""
    fingerprint = lambda *sets: build_config(load_preset("dcgan-fashion"), ["model.g.norm=virtual-batch", *sets]).fingerprint()  # noqa: E731
    assert fingerprint("model.g.reference_batch=64") == fingerprint() != fingerprint("model.g.reference_batch=32")


def test_malformed_override():
    assert "key=value" in _error("toy-grid25", "train.steps")
    assert "is a value, not a section" in _error("toy-grid25", "seed.x=1")


def test_best_must_be_a_metric_this_kind_of_run_reports():
    """A `log.best` no evaluation reports would keep no checkpoint and say nothing; refused."""
    assert "log.best=modes is not a metric this run reports (none)" in _error("toy-swissroll", "log.best=modes")
    assert "(none)" in _error("goodfellow-1d", "log.best=kl")
    assert "log.best=high_quality is not a metric" in _error("dcgan-fashion", "log.best=high_quality")
    assert "(fid)" in _error("dcgan-fashion", "log.metrics=[fid]", "log.best=high_quality")
    assert "(test_error)" in _error("ssl-mnist-100", "techniques.semi_supervised.average=null", "log.best=kl")
    assert build_config(load_preset("toy-grid25"), ["log.best=high_quality"]).log.best == "high_quality"
    assert build_config(load_preset("ssl-fashion-100"), ["log.best=test_error"]).log.best == "test_error"
    cfg = build_config(load_preset("ssl-fashion-100"), ["log.best=test_error_average"])
    assert cfg.techniques.semi_supervised.average is not None and cfg.log.best == "test_error_average"


def test_a_null_labelled_subset_seed_is_the_run_s_seed():
    """So that a sweep's seeds are different labelled subsets too, without a spec per seed."""
    cfg = build_config(load_preset("ssl-mnist-100"), ["seed=7", "techniques.semi_supervised.seed=null"])
    assert cfg.techniques.semi_supervised.seed == 7
    same = build_config(load_preset("ssl-mnist-100"), ["seed=7", "techniques.semi_supervised.seed=7"])
    assert cfg.fingerprint() == same.fingerprint()
    assert build_config(load_preset("ssl-mnist-100"), ["seed=7"]).techniques.semi_supervised.seed == 0


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("dcgan-fashion", ["optim.d.momentum=0.5"], "momentum applies to sgd and rmsprop, not adam"),
        ("goodfellow-mnist", ["optim.g.betas=[0.5, 0.999]"], "betas apply to adam only, not sgd"),
        ("wgan-clip-fashion", ["optim.d.betas=[0.5, 0.9]"], "betas apply to adam only, not rmsprop"),
        ("dcgan-fashion", ["optim.g.name=sgd", "optim.g.betas=[0.5, 0.9]"], "betas apply to adam only, not sgd"),
        ("toy-grid25", ["model.d.maxout_pieces=4"], "maxout_pieces applies to activation=maxout only"),
        ("dcgan-fashion", ["log.features=digits"], "log.features=digits is the feature space of log.metrics"),
    ],
)
def test_settings_that_would_be_ignored_are_refused(preset, overrides, message):
    assert message in _error(preset, *overrides)


def test_switching_optimizer_or_activation_drops_the_presets_settings_of_the_old_one():
    cfg = build_config(load_preset("dcgan-fashion"), ["optim.g.name=sgd", "optim.d.name=rmsprop"])
    assert cfg.optim.g.name == "sgd" and tuple(cfg.optim.g.betas) == (0.9, 0.999) and cfg.optim.d.name == "rmsprop"
    cfg = build_config(load_preset("goodfellow-mnist"), ["optim.g.name=adam", "model.d.activation=relu"])
    assert cfg.optim.g.momentum == 0.0 and cfg.model.d.maxout_pieces == 2
    cfg = build_config(load_preset("dcgan-fashion"), ["optim.g.name=sgd", "optim.g.momentum=0.9"])
    assert cfg.optim.g.momentum == 0.9


def test_a_config_saved_before_versions_is_migrated_to_one_the_strict_schema_takes():
    """Saved configs hold what they trained with: a setting that was merely ignored then is reset
    by `migrate` (it changes nothing the run computes), so the run still resumes, samples and
    evaluates, while a new config with the same settings is refused."""
    from gankit.config import CONFIG_VERSION, migrate

    raw = build_config(load_preset("goodfellow-mnist")).to_dict()  # a version-1 file: no version key
    raw["optim"]["g"]["betas"] = [0.5, 0.999]  # left by an Adam preset switched to SGD, before
    raw["model"]["g"]["maxout_pieces"] = 3
    raw["log"]["features"] = "mnist"
    raw["log"]["best"] = "high_quality"
    with pytest.raises(UserError, match="applies to activation=maxout only|betas apply to adam only"):
        build_config(raw)
    migration = migrate(raw)
    assert migration.saved_as == 1 and "version" not in migration.raw
    assert migration.reset == {"model.g.maxout_pieces": 3, "optim.g.betas": [0.5, 0.999]}
    cfg = build_config(migration.raw)
    assert cfg.model.g.maxout_pieces == 2 and tuple(cfg.optim.g.betas) == (0.9, 0.999)
    assert cfg.log.features == "auto" and cfg.log.best is None
    assert migrate({**cfg.to_dict(), "version": CONFIG_VERSION}).raw == cfg.to_dict()  # today's files: untouched


def test_a_checkpoint_of_before_versions_is_checked_by_the_fingerprint_it_recorded():
    """Version-1 checkpoints hashed only non-default values, with the ignored settings as saved;
    today's hash every value, so a later change of a default cannot change their meaning."""
    import hashlib
    import json

    from gankit.config import migrate
    from gankit.config.schema import _without_resumable

    raw = build_config(load_preset("goodfellow-mnist")).to_dict()
    raw["model"]["g"]["maxout_pieces"] = 3
    migration = migrate(raw)
    cfg = build_config(migration.raw)
    cfg._reset_by_migration = migration.reset
    old = _without_resumable(cfg.model_dump(mode="json", exclude_defaults=True))
    old.setdefault("model", {}).setdefault("g", {})["maxout_pieces"] = 3  # as gankit 1 validated the file
    assert cfg.fingerprint(1) == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert cfg.fingerprint() != cfg.fingerprint(1)
    assert build_config(migration.raw, ["train.steps=99"]).fingerprint() == cfg.fingerprint()
    assert build_config(migration.raw, ["model.z_dim=7"]).fingerprint() != cfg.fingerprint()


@pytest.mark.parametrize("preset, recorded", [
    ("dcgan-fashion", {"92d49b3c849b947a", "b4032aa57874e8b0", "2114d94e4afed58f", "8c1fc1c664058fd6"}),
    ("toy-ring8", {"1b27ff34599afc61", "df18c3e6676a3c58", "564ddfaa48f53cef", "648e9ec0318fe3fd"}),
])
def test_checkpoints_of_the_gankits_with_fewer_version_2_settings_still_fit(preset, recorded):
    """The fingerprints that gankit recorded for these presets before the stabilisers (commit
    cf5fb96's parent), at cf5fb96, at 1aab927 and before conditioning (c12a379 to c7c7689),
    computed by those versions' code."""
    cfg = build_config(load_preset(preset))
    assert recorded | {cfg.fingerprint()} == cfg.fingerprints()
    for changed in ("model.pack=2", "model.d.spectral_norm=true", "model.conditional={classes: 10}"):
        other = build_config(load_preset("dcgan-fashion"), [changed, "data.name=digits"])
        assert not other.fingerprints() & build_config(load_preset("dcgan-fashion"), ["data.name=digits"]).fingerprints()


@pytest.mark.parametrize("version, message", [(9, "saved by a newer gankit; this one reads up to 2"),
                                              ("two", "config version must be a whole number from 1 to 2")])
def test_a_config_version_gankit_cannot_read_is_one_line(version, message):
    from gankit.config import migrate

    with pytest.raises(UserError, match=message):
        migrate({"version": version, "data": {"name": "ring"}})


def test_a_resume_setting_typed_now_is_checked_strictly():
    from gankit.config import RunConfig, migrate

    raw = migrate(build_config(load_preset("dcgan-mnist")).to_dict()).raw
    with pytest.raises(UserError, match="log.best=kl is not a metric this run reports"):
        build_config(raw, ["log.best=kl"])
    with pytest.raises(UserError, match="log.features=digits is the feature space of log.metrics"):
        build_config(raw, ["log.features=digits"])
    assert isinstance(build_config(raw, ["log.every=7"]), RunConfig)


def test_a_setting_typed_with_its_switch_is_kept_and_refused_when_it_does_not_apply():
    assert "betas apply to adam only, not sgd" in _error("dcgan-fashion", "optim.g.betas=[0.5, 0.9]", "optim.g.name=sgd")
    assert "maxout_pieces applies to activation=maxout only" in _error(
        "goodfellow-mnist", "model.d.maxout_pieces=3", "model.d.activation=relu")
    assert "channels expects numbers, not true" in _error(
        "dcgan-fashion", "data={name: folder, path: /x, resolution: 28, channels: true}")


def test_a_saved_config_with_every_default_written_out_still_loads():
    """Saved run configs spell out every field, defaults included; the refusals above go by value."""
    for name in preset_names():
        cfg = build_config(load_preset(name))
        assert build_config(cfg.to_dict()).fingerprint() == cfg.fingerprint()


def test_yaml_true_is_no_number_and_a_path_read_as_a_number_is_refused():
    assert "train: steps expects numbers, not true" in _error("toy-grid25", "train.steps=true")
    assert "ema expects numbers, not false" in _error("toy-grid25", "train.ema=false")
    assert "hidden expects numbers, not true" in _error("toy-grid25", "model.g.hidden=[true, 4]")
    assert "root: YAML read the path as the number 2024.1; put the path in quotes" in _error("dcgan-fashion", "data.root=2024.10")
    assert str(build_config(load_preset("dcgan-fashion"), ["data.root='2024.10'"]).data.root) == "2024.10"


def test_a_config_file_that_is_empty_or_broken_yaml_is_named_with_the_place(tmp_path):
    from gankit.config import load_yaml_file

    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(UserError, match="empty.yaml is empty"):
        load_yaml_file(tmp_path / "empty.yaml")
    (tmp_path / "broken.yaml").write_text("train: {steps: 10\nseed: 2\n")
    with pytest.raises(UserError, match=r"broken.yaml is not valid YAML: expected ',' or '}', but got ':' at line 2, column 5"):
        load_yaml_file(tmp_path / "broken.yaml")
    (tmp_path / "twice.yaml").write_text("seed: 1\ntrain: {steps: 3}\nseed: 7\n")
    with pytest.raises(UserError, match=r"twice.yaml is not valid YAML: the key 'seed' is given twice at line 3, column 1"):
        load_yaml_file(tmp_path / "twice.yaml")
    (tmp_path / "merged.yaml").write_text("a: &base {lr: 1, betas: [0, 1]}\nb: {<<: *base, lr: 2}\n")
    assert load_yaml_file(tmp_path / "merged.yaml")["b"] == {"lr": 2, "betas": [0, 1]}  # merge keys still work
    (tmp_path / "list.yaml").write_text("[1, 2]\n")
    with pytest.raises(UserError, match="must hold a mapping of keys, not list"):
        load_yaml_file(tmp_path / "list.yaml")


def test_a_key_left_over_from_another_kind_says_how_to_change_kinds():
    message = _error("toy-grid25", "model.g.kind=dcgan")
    assert message == ("config: unknown key 'model.g.hidden' for model.g.kind=dcgan; to change kinds, "
                       "give the whole section: --set 'model.g={kind: dcgan}'")
    assert "for data.name=ring; to change kinds" in _error("toy-grid25", "data.name=ring")
    assert _error("dcgan-fashion", "model.d.zzz=3") == "config: unknown key 'model.d.zzz'"
