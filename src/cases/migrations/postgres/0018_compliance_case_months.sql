-- Past moments from the sealed cells (ADR 63): the UTC months in which a fact
-- about a case was recorded, one row per month and case (from every recorded
-- moment of its rows in the service-level tables). A report as of a moment M
-- after the seal S before it reads the cells of the seals up to S and only the
-- rows of the cases with a fact recorded in S's month up to M's, found through
-- this table's key, instead of every row touched since S (ADR 30).

CREATE TABLE compliance_case_months (
    month TEXT COLLATE "C" NOT NULL,
    case_id UUID NOT NULL,
    PRIMARY KEY (month, case_id)
);
INSERT INTO compliance_case_months (month, case_id)
SELECT to_char(received_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE received_recorded_at IS NOT NULL
UNION
SELECT to_char(fr_fulfilled_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE fr_fulfilled_recorded_at IS NOT NULL
UNION
SELECT to_char(fr_breach_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE fr_breach_recorded_at IS NOT NULL
UNION
SELECT to_char(fr_breach_withdrawn_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE fr_breach_withdrawn_recorded_at IS NOT NULL
UNION
SELECT to_char(res_fulfilled_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE res_fulfilled_recorded_at IS NOT NULL
UNION
SELECT to_char(res_breach_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE res_breach_recorded_at IS NOT NULL
UNION
SELECT to_char(res_breach_withdrawn_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE res_breach_withdrawn_recorded_at IS NOT NULL
UNION
SELECT to_char(reopened_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE reopened_recorded_at IS NOT NULL
UNION
SELECT to_char(escalated_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_cases WHERE escalated_recorded_at IS NOT NULL
UNION
SELECT to_char(escalated_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_updates WHERE escalated_recorded_at IS NOT NULL
UNION
SELECT to_char(nu_fulfilled_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_updates WHERE nu_fulfilled_recorded_at IS NOT NULL
UNION
SELECT to_char(nu_breach_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_updates WHERE nu_breach_recorded_at IS NOT NULL
UNION
SELECT to_char(nu_breach_withdrawn_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_updates WHERE nu_breach_withdrawn_recorded_at IS NOT NULL
UNION
SELECT to_char(escalated_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_escalations WHERE escalated_recorded_at IS NOT NULL
UNION
SELECT to_char(vendor_fulfilled_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_escalations WHERE vendor_fulfilled_recorded_at IS NOT NULL
UNION
SELECT to_char(vendor_breach_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_escalations WHERE vendor_breach_recorded_at IS NOT NULL
UNION
SELECT to_char(vendor_breach_withdrawn_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_escalations WHERE vendor_breach_withdrawn_recorded_at IS NOT NULL
UNION
SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_breaches WHERE recorded_at IS NOT NULL
UNION
SELECT to_char(withdrawn_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM'), case_id FROM service_level_breaches WHERE withdrawn_recorded_at IS NOT NULL;
