"""How the event log is built from eventsourcing's `Application`: the one module
that overrides its construction hooks (ADR 0037).

What it relies on in eventsourcing (9.5), checked by
`tests/unit/persistence/test_application_hooks_contract.py`:

- `Application.construct_env(name, env)`, called by `__init__` with the
  application's `name` and the `env` it was given, its result read for every
  setting (so nothing comes from the process environment);
- `Application.construct_transcoder()`, called once by `__init__` for the
  mapper's transcoder, and `Application.construct_mapper()`, called once by
  `__init__` for the application's `mapper` (sealing personal fields when the
  log has subject keys, ADR 0044);
- `Application.save(*objs, **kwargs)` passing its keyword arguments on to the
  recorder's `insert_events(stored_events, **kwargs)` (the idempotency step of
  ADR 0031 rides on it), and the application's `recorder`.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application, Repository
from eventsourcing.persistence import Mapper, Transcoder
from eventsourcing.utils import Environment, EnvType, strtobool

from cases.persistence.idempotency_steps import RecordedStep
from cases.persistence.loading import OneReadRepository
from cases.persistence.registry import cases_transcoder
from cases.persistence.sealing import Sealer
from cases.persistence.sealing_mapper import SealingMapper


class ConfiguredBySettings(Application[Any]):
    """An application configured only by the `env` it is given, storing with the
    `cases` transcoder, whose recorder may take idempotency steps."""

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Configuration comes only from `cases.settings` (via `env`), never from
        # stray eventsourcing variables in the process environment.
        return Environment(name, dict(env or {}))

    sealer: Sealer | None = None
    """Set before `__init__` to seal personal fields (ADR 0044); None stores them as
    they are."""

    def construct_transcoder(self) -> Transcoder:
        return cases_transcoder(self.sealer)

    def construct_mapper(self) -> Mapper[Any]:
        if self.sealer is None:
            return super().construct_mapper()
        return SealingMapper(self.construct_transcoder(), self.sealer)

    def construct_repository(self) -> Repository[Any]:
        """The library's repository, as the library configures it, loading an
        aggregate in one read (`cases.persistence.loading`, ADR 0059)."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return OneReadRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def recorded_steps(self, key_id: str) -> dict[str, RecordedStep]:
        """The steps recorded for the idempotent request `key_id` (ADR 0031)."""
        select = getattr(self.recorder, "select_steps", None)
        return {} if select is None else dict(select(key_id))
