"""The configuration: ``config.yaml`` (and each ``--configfile``) read, validated and expanded.

- :mod:`~flip_pipeline.config.yaml_loader`: the one YAML loader (file, line and column in every error; keys given
  twice refused).
- :mod:`~flip_pipeline.config.schema`: the JSON Schema (package data) and one entry checked against it.
- :mod:`~flip_pipeline.config.validation`: the schema plus the cross-references (an experiment naming a corpus,
  encoder, vocabulary or view that does not exist), each error naming its key.
- :mod:`~flip_pipeline.config.thesis_checks`: the ``thesis`` section's cross-references.
- :mod:`~flip_pipeline.config.views`: the views a corpus entry produces.
- :mod:`~flip_pipeline.config.runs`: experiments expanded into runs (:class:`~flip_pipeline.config.runs.Run`).

The settings the stages build from plain dicts, fingerprints and the defaults the rules and the CLI share are
:mod:`flip_pipeline.settings`, beside this package and below every stage and format (no YAML, no JSON Schema).
"""
