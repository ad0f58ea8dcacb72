"""The run configuration, by job: `schema` (every setting and the checks between them), `loading`
(presets, YAML files, recipes, `--set` overrides), `migrate` (config.yaml files of older gankit
versions) and `explain` (a refusal in one line, with "did you mean"). Import from here."""

from gankit.config.loading import (
    apply_overrides,
    build_config,
    build_data_config,
    load_config_file,
    load_preset,
    load_run_config,
    load_yaml_file,
    parse_override,
    preset_names,
    save_config,
)
from gankit.config.migrate import Migration, migrate
from gankit.config.schema import *  # noqa: F403 - the schema's models are this package's API
from gankit.config.schema import CONFIG_VERSION, RESUMABLE_CHANGES, SEED_LIMIT, data_models, resumable
