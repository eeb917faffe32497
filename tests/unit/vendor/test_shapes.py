"""Reading the vendor's shapes: enums without case, dates, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from cases.domain.advisory import Advisory
from cases.domain.case_values import AdvisoryClassification
from cases.vendor.graph import issue_facts
from cases.vendor.http import retry_after
from cases.vendor.partner_center import request_state
from cases.vendor.shapes import MalformedItemError, canonical, optional_moment
from tests.support.builders import ctx
from tests.support.vendor_server import issue

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class TestEnums:
    @pytest.mark.parametrize(
        "sent", ["serviceRestored", "ServiceRestored", "SERVICERESTORED", "service_restored"]
    )
    def test_a_known_value_is_named_in_its_camel_case(self, sent: str) -> None:
        assert canonical(sent, ("serviceRestored",), "status") == "serviceRestored"

    def test_an_unknown_value_is_kept_as_sent(self) -> None:
        assert canonical("mitigatedExternal", ("resolved",), "status") == "mitigatedExternal"

    def test_a_value_that_is_not_a_name_is_malformed(self) -> None:
        with pytest.raises(MalformedItemError, match="status"):
            canonical(7, ("resolved",), "status")


class TestDates:
    def test_no_date_means_none(self) -> None:
        assert optional_moment({"d": "0001-01-01T00:00:00"}, "d") is None
        assert optional_moment({"d": "0001-01-01T00:00:00Z"}, "d") is None

    def test_seven_fraction_digits_and_no_offset_read_as_utc(self) -> None:
        read = optional_moment({"d": "2026-03-02T08:00:00.1234567"}, "d")
        assert read == T0.replace(microsecond=123456)

    def test_a_partner_center_request_reads_without_case(self) -> None:
        state = request_state(
            {
                "Id": "1",
                "Status": "AttentionNeeded",
                "LastModifiedDate": "0001-01-01T00:00:00",
                "Notes": [
                    {"CreatedByName": "MS", "CreatedDate": "2026-03-02T08:00:00", "Text": "Hi"}
                ],
            }
        )
        assert (state.status, state.last_modified_at) == ("attention_needed", None)
        assert state.notes == ((T0, "MS: Hi"),)


class TestRetryAfter:
    def test_seconds_within_the_limit(self) -> None:
        assert retry_after("2", 60) == 2
        assert retry_after("600", 60) == 60
        assert retry_after(None, 60) == 1

    def test_an_http_date(self) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        assert 20 <= retry_after(later, 60) <= 30


class TestAdvisoryVersions:
    def test_the_same_version_or_an_older_one_records_nothing(self) -> None:
        first = issue_facts(issue("EX100", T0, classification="Incident"))
        assert first.classification is AdvisoryClassification.INCIDENT
        advisory = Advisory.import_first(ctx(), first)
        assert not advisory.import_version(ctx(), first)
        older = issue_facts(issue("EX100", T0 - timedelta(hours=1), status="investigating"))
        assert not advisory.import_version(ctx(), older)
        resolved = issue_facts(issue("EX100", T0 + timedelta(hours=1), resolved=True))
        assert advisory.import_version(ctx(), resolved)
        assert [type(e).__name__ for e in advisory.collect_events()] == ["Imported", "Revised"]

    def test_an_issue_with_an_id_that_is_not_the_vendors_is_malformed(self) -> None:
        with pytest.raises(MalformedItemError):
            issue_facts(issue("not an id", T0))
