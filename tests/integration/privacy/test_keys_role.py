"""The subject keys under a PostgreSQL role of their own (ADR 0067): the
application's role stores and erases without any right on the keys' schema,
which it cannot read; a dump of its schema holds no key."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.persistence.database_url import parse_database_url
from cases.persistence.personal_data import ERASED
from cases.persistence.store import StoreUnavailableError
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, terms
from tests.support.postgres import throwaway_database

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


def _as(url: str, role: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def _separate_roles(admin: psycopg.Connection[tuple[object, ...]], app: str, keeper: str) -> None:
    """What ADR 0067 tells the operator to run once after migration 0019."""
    for role in (app, keeper):
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    a, k = sql.Identifier(app), sql.Identifier(keeper)
    for statement in (
        "GRANT USAGE, CREATE ON SCHEMA public TO {a}",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO {a}",
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {a}",
        "REVOKE ALL ON SCHEMA cases_keys FROM PUBLIC",
        "ALTER SCHEMA cases_keys OWNER TO {k}",
        "ALTER TABLE cases_keys.subject_keys OWNER TO {k}",
        "ALTER TABLE cases_keys.subject_index OWNER TO {k}",
    ):
        admin.execute(sql.SQL(statement).format(a=a, k=k))


def test_the_application_role_seals_and_erases_but_cannot_read_the_keys(
    tmp_path: Path, clock: ManualClock
) -> None:
    tag = uuid4().hex[:10]
    app, keeper = f"cases_app_{tag}", f"cases_keys_{tag}"
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        with psycopg.connect(url, autocommit=True) as admin:
            try:
                _separate_roles(admin, app, keeper)
                settings = Settings(
                    database_url=_as(url, app),
                    keys_database_url=_as(url, keeper),
                    data_dir=tmp_path,
                    master_key=MasterKey.generate().as_text(),  # type: ignore[arg-type]
                )
                services = bootstrap(settings, clock)
                try:
                    services.desk.publish_terms(caller(), terms(), effective_from=T0)
                    case = services.desk.receive_case(
                        caller(), cmd.TakeIn(received_at=clock.now(), **intake())
                    )
                    found = services.privacy.find(email=intake()["contact"].email)
                    assert [s.subject_id for s in found] == [case.aggregate_id]
                    services.privacy.erase(ADMIN, case.aggregate_id, "Article 17 request 3")
                    assert services.desk.case(case.aggregate_id).description == ERASED
                finally:
                    services.close()

                with psycopg.connect(_as(url, app), autocommit=True) as as_app:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        as_app.execute("SELECT wrapped_key FROM cases_keys.subject_keys")
                    public = as_app.execute(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename IN ('subject_keys', 'subject_index')"
                    ).fetchone()
                    assert public == (0,)  # a dump of the event schema holds no key
                tombstone = admin.execute(
                    "SELECT wrapped_key IS NULL FROM cases_keys.subject_keys WHERE subject_id = %s",
                    [str(case.aggregate_id)],
                ).fetchone()
                assert tombstone == (True,)

                alone = settings.model_copy(update={"keys_database_url": None})
                with pytest.raises(StoreUnavailableError, match="cases_keys"):
                    bootstrap(alone, clock)
            finally:
                for role in (app, keeper):
                    name = sql.Identifier(role)
                    admin.execute(sql.SQL("DROP OWNED BY {}").format(name))
                    admin.execute(sql.SQL("DROP ROLE {}").format(name))


def test_a_keys_url_naming_another_database_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        settings = Settings(
            database_url=url,
            keys_database_url=url.rsplit("/", 1)[0] + "/elsewhere",
            data_dir=tmp_path,
            master_key=MasterKey.generate().as_text(),  # type: ignore[arg-type]
        )
        with pytest.raises(StoreUnavailableError, match="only the role may differ"):
            bootstrap(settings, clock)
