-- The population audit, written once for every engine.
--
-- Each `-- name: X` block is one SELECT; the engine materialises it as table X (DuckDB: a table;
-- Spark: Parquet in the work folder, read back as a view). A `-- view: X` block is a view, computed
-- where it is used (cheap queries, or queries used once). `{name}` is a number or date of the
-- audit definition; `@fn(...)` is one of the few functions whose spelling differs between the
-- engines (pinchpoint.audit.engines.DIALECTS). Everything else is SQL both engines run as it is.
--
-- Inputs from the engine: raw_lines(file_no, expected_type, line_no, line), files(file_no, file: the
-- file's name, joined back only where a table is written), set_aside(file_no, line_no, reason),
-- codes(system, code, role, key), exclusion_windows(key, before_days, after_days, min_days),
-- warning_defs(key, demands, max_days, neurology_within); between stage 1 and stage 2 the verdicts
-- table (signature, verdict, card_warns, plan_offers, reasons) from the CDS order card's review.
-- `@band(finding, x)` writes a number as the representative of its band (pinchpoint.audit.verdicts.value_bands).

-- stage: 1
-- view: lines
-- Every input line, with the reason it was set aside before loading (too long, a raw 0x01 byte, not
-- UTF-8) and whether it is blank: empty or only spaces (trimmed only when it starts with a space, so
-- that no line is copied for it). A line of either kind is not parsed (unread).
SELECT file_no, expected_type, line_no, line, set_aside_reason, blank, set_aside_reason IS NOT NULL OR blank AS unread
FROM (
  SELECT r.file_no, r.expected_type, r.line_no, r.line, s.reason AS set_aside_reason,
         CASE WHEN r.line IS NULL THEN true WHEN substr(r.line, 1, 1) = ' ' THEN trim(r.line) = ''
              ELSE r.line = '' END AS blank
  FROM raw_lines r LEFT JOIN set_aside s ON s.file_no = r.file_no AND s.line_no = r.line_no
) l

-- view: coded
-- One row per input line: the fields the audit reads and the first check the line fails (problem,
-- NULL when it passes every check; duplicates and references are looked at later). Each line's JSON
-- is parsed once (@json_fields, NULL when the line is not JSON), for the elements its resource type
-- has (FHIR R4): a Patient's birth date, sex and organisation; for the other types, a list whose
-- positions mean the same in every type (below) and that stops after the last element the type has
-- (a position past its end reads NULL: @at). A view: patient_lines and resource_lines each select
-- their own files from it, so every line is parsed once.
SELECT file_no, expected_type, line_no, rtype, id, subject, clinical, verification, status, performer, organisation,
       gender, system0, code0, system1, code1, d, onset, end_d,
       CASE WHEN set_aside_reason IS NOT NULL THEN set_aside_reason
            WHEN blank THEN 'empty line'
            WHEN NOT ok THEN 'not a JSON object (invalid or truncated JSON)'
            WHEN rtype IS NULL THEN 'no resourceType'
            WHEN rtype <> expected_type THEN concat('wrong resource type: ', rtype, ' in a file of ', expected_type)
            WHEN id IS NULL OR id = '' THEN 'no id'
            WHEN (date_text IS NOT NULL AND d IS NULL) OR (onset_text IS NOT NULL AND onset IS NULL)
                 OR (end_text IS NOT NULL AND end_d IS NULL) THEN 'invalid date'
            WHEN d > DATE '{as_of}' OR onset > DATE '{as_of}' THEN 'date in the future'
            WHEN rtype <> 'Patient' AND (subject IS NULL OR subject NOT LIKE 'Patient/%') THEN 'no patient reference'
       END AS problem
FROM (
  SELECT file_no, expected_type, line_no, blank, set_aside_reason, rtype, id, subject, clinical, verification, status,
         performer, organisation, gender, date_text, onset_text, end_text, system0, code0, system1, code1,
         CASE WHEN f IS NULL THEN false WHEN rtype IS NOT NULL THEN true ELSE @json_object(line) END AS ok,
         @date(date_text) AS d, @date(onset_text) AS onset, @date(end_text) AS end_d
  FROM (
    SELECT file_no, expected_type, line_no, line, blank, set_aside_reason, f, @at(f, 1) AS rtype, @at(f, 2) AS id,
           CAST(NULL AS STRING) AS subject, @at(f, 3) AS date_text, CAST(NULL AS STRING) AS onset_text,
           CAST(NULL AS STRING) AS end_text, @at(f, 4) AS gender, @at(f, 5) AS organisation,
           CAST(NULL AS STRING) AS system0, CAST(NULL AS STRING) AS code0, CAST(NULL AS STRING) AS system1,
           CAST(NULL AS STRING) AS code1, CAST(NULL AS STRING) AS status, CAST(NULL AS STRING) AS performer,
           CAST(NULL AS STRING) AS clinical, CAST(NULL AS STRING) AS verification
    FROM (
      SELECT file_no, expected_type, line_no, line, blank, set_aside_reason,
             CASE WHEN NOT unread
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.birthDate', '$.gender', '$.managingOrganization.reference')
             END AS f
      FROM lines WHERE expected_type = 'Patient'
    ) patient
    UNION ALL
    -- Positions: 1 resourceType, 2 id, 3 and 4 the patient (subject or patient), 5 the date that places the
    -- resource, 6 to 9 the system and code of its first two codings (code, procedureCode or
    -- medicationCodeableConcept), 10 status, 11 author, 12 a second date (a Condition's onset, the
    -- dateTime of a MedicationStatement's effective[x]), 13 the end of a MedicationStatement's period,
    -- 14 and 15 a Condition's clinical and verification status. A path a type does not have reads NULL.
    SELECT file_no, expected_type, line_no, line, blank, set_aside_reason, f, @at(f, 1), @at(f, 2),
           coalesce(@at(f, 3), @at(f, 4)), coalesce(@at(f, 5), @at(f, 12)), @at(f, 12), @at(f, 13),
           CAST(NULL AS STRING), CAST(NULL AS STRING), @at(f, 6), @at(f, 7), @at(f, 8), @at(f, 9), @at(f, 10),
           @at(f, 11), @at(f, 14), @at(f, 15)
    FROM (
      SELECT file_no, expected_type, line_no, line, blank, set_aside_reason,
             CASE WHEN unread THEN NULL
                  WHEN expected_type = 'Condition'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.recordedDate', '$.code.coding[0].system', '$.code.coding[0].code', '$.code.coding[1].system',
                       '$.code.coding[1].code', '$.status', '$.asserter.reference', '$.onsetDateTime',
                       '$.effectivePeriod.end', '$.clinicalStatus.coding[0].code', '$.verificationStatus.coding[0].code')
                  WHEN expected_type = 'ServiceRequest'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.authoredOn', '$.code.coding[0].system', '$.code.coding[0].code', '$.code.coding[1].system',
                       '$.code.coding[1].code', '$.status', '$.requester.reference')
                  WHEN expected_type = 'MedicationRequest'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.authoredOn', '$.medicationCodeableConcept.coding[0].system',
                       '$.medicationCodeableConcept.coding[0].code', '$.medicationCodeableConcept.coding[1].system',
                       '$.medicationCodeableConcept.coding[1].code', '$.status', '$.requester.reference')
                  WHEN expected_type = 'ImagingStudy'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.started', '$.procedureCode[0].coding[0].system', '$.procedureCode[0].coding[0].code',
                       '$.procedureCode[0].coding[1].system', '$.procedureCode[0].coding[1].code', '$.status')
                  WHEN expected_type = 'MedicationStatement'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.effectivePeriod.start', '$.medicationCodeableConcept.coding[0].system',
                       '$.medicationCodeableConcept.coding[0].code', '$.medicationCodeableConcept.coding[1].system',
                       '$.medicationCodeableConcept.coding[1].code', '$.status', '$.informationSource.reference',
                       '$.effectiveDateTime', '$.effectivePeriod.end')
                  WHEN expected_type = 'Encounter'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.period.start')
                  WHEN expected_type IN ('Observation', 'DiagnosticReport')
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.effectiveDateTime')
                  WHEN expected_type = 'Procedure'
                  THEN @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference',
                       '$.performedDateTime')
                  ELSE @json_fields(line, '$.resourceType', '$.id', '$.subject.reference', '$.patient.reference')
             END AS f
      FROM lines WHERE expected_type <> 'Patient'
    ) resource
  ) fields
) dated

-- name: patient_lines
-- The lines of the Patient files, with the columns read later.
SELECT file_no, line_no, id, d AS birth_date, gender, organisation, problem FROM coded WHERE expected_type = 'Patient'

-- name: patient_copies
-- Copies of one Patient (same id): the first in file and line order is read, the rest are refused.
-- Only ids with more than one copy are ranked: an aggregate of the ids' 64-bit hashes (cheaper than of
-- the strings) finds the few that may repeat, and the ranking by the ids themselves decides.
SELECT c.file_no, c.line_no, 'Patient' AS expected_type, concat(f.file, ':', CAST(c.first_line AS STRING)) AS first_copy
FROM (
  SELECT s.file_no, s.line_no,
         row_number() OVER (PARTITION BY s.id ORDER BY s.file_no, s.line_no) AS copy_no,
         first_value(s.file_no) OVER (PARTITION BY s.id ORDER BY s.file_no, s.line_no) AS first_file,
         first_value(s.line_no) OVER (PARTITION BY s.id ORDER BY s.file_no, s.line_no) AS first_line
  FROM patient_lines s
  JOIN (SELECT h FROM (SELECT @hash(id) AS h FROM patient_lines WHERE problem IS NULL) i GROUP BY h HAVING count(*) > 1) d
    ON d.h = @hash(s.id)
  WHERE s.problem IS NULL
) c JOIN files f ON f.file_no = c.first_file
WHERE c.copy_no > 1

-- name: patients
-- The Patients that pass every check and are the first copy of their resource.
SELECT c.id AS patient_id, c.birth_date, c.gender, c.organisation, c.file_no
FROM patient_lines c LEFT JOIN patient_copies x ON x.file_no = c.file_no AND x.line_no = c.line_no
WHERE c.problem IS NULL AND x.line_no IS NULL

-- name: resource_lines
-- The lines of every other file, with the columns read later and the patient each refers to (NULL:
-- the export holds no such patient; resolved as the lines are stored, with no second wide table).
SELECT c.file_no, c.expected_type, c.line_no, c.id, c.subject, p.patient_id, c.clinical, c.verification, c.status,
       c.performer, c.system0, c.code0, c.system1, c.code1, c.d, c.onset, c.end_d, c.problem
FROM coded c LEFT JOIN patients p ON p.patient_id = substr(c.subject, 9)
WHERE c.expected_type <> 'Patient'

-- name: resource_copies
-- Copies of one resource of another type (same type and id), as patient_copies.
SELECT c.file_no, c.line_no, c.expected_type, concat(f.file, ':', CAST(c.first_line AS STRING)) AS first_copy
FROM (
  SELECT s.file_no, s.line_no, s.expected_type,
         row_number() OVER (PARTITION BY s.expected_type, s.id ORDER BY s.file_no, s.line_no) AS copy_no,
         first_value(s.file_no) OVER (PARTITION BY s.expected_type, s.id ORDER BY s.file_no, s.line_no) AS first_file,
         first_value(s.line_no) OVER (PARTITION BY s.expected_type, s.id ORDER BY s.file_no, s.line_no) AS first_line
  FROM resource_lines s
  JOIN (SELECT h FROM (SELECT @hash(expected_type, id) AS h FROM resource_lines WHERE problem IS NULL) i
        GROUP BY h HAVING count(*) > 1) d
    ON d.h = @hash(s.expected_type, s.id)
  WHERE s.problem IS NULL
) c JOIN files f ON f.file_no = c.first_file
WHERE c.copy_no > 1

-- view: records
-- Every other resource that passed the checks and is the first copy of itself.
SELECT r.expected_type AS rtype, r.*
FROM resource_lines r LEFT JOIN resource_copies x ON x.file_no = r.file_no AND x.line_no = r.line_no
WHERE r.problem IS NULL AND x.line_no IS NULL

-- name: record_codes
-- The records' codes that the audit defines, with the part of the measure each defines. A Condition
-- entered in error, and an order or study entered in error or cancelled, count for nothing.
-- (A record is one row per resource, and its second coding is read only when it differs from its first,
-- so no row repeats: no DISTINCT over every row.)
SELECT r.rtype, r.id, r.file_no, r.line_no, r.patient_id, r.d, r.onset, r.end_d, r.clinical, r.verification,
       r.performer, k.role, k.key, k.system, k.code
FROM (SELECT rtype, id, file_no, line_no, patient_id, d, onset, end_d, clinical, verification, status, performer,
             system0 AS system, code0 AS code
      FROM records WHERE code0 IS NOT NULL AND patient_id IS NOT NULL
      UNION ALL
      SELECT rtype, id, file_no, line_no, patient_id, d, onset, end_d, clinical, verification, status, performer,
             system1, code1
      FROM records WHERE code1 IS NOT NULL AND patient_id IS NOT NULL
        AND NOT coalesce(system1 = system0 AND code1 = code0, false)) r
JOIN codes k ON k.system = r.system AND k.code = r.code
WHERE (r.rtype = 'Condition' AND k.role IN ('index', 'exclusion', 'warning', 'neurology', 'card')
       AND coalesce(r.verification, '') <> 'entered-in-error')
   OR (r.rtype IN ('ServiceRequest', 'ImagingStudy') AND k.role IN ('imaging', 'mri')
       AND coalesce(r.status, '') NOT IN ('entered-in-error', 'cancelled', 'revoked'))
   OR (r.rtype IN ('MedicationStatement', 'MedicationRequest') AND k.role = 'medication'
       AND coalesce(r.status, '') <> 'entered-in-error')

-- name: refusals
-- Every refused line with its reason.
SELECT f.file, r.line_no, r.resource_type, r.reason
FROM (
  SELECT file_no, line_no, 'Patient' AS resource_type, problem AS reason FROM patient_lines WHERE problem IS NOT NULL
  UNION ALL
  SELECT file_no, line_no, expected_type, problem FROM resource_lines WHERE problem IS NOT NULL
  UNION ALL
  SELECT file_no, line_no, expected_type, concat('duplicate of ', first_copy) FROM patient_copies
  UNION ALL
  SELECT file_no, line_no, expected_type, concat('duplicate of ', first_copy) FROM resource_copies
  UNION ALL
  SELECT file_no, line_no, expected_type, concat('reference to a missing patient: ', subject) FROM records
  WHERE patient_id IS NULL
) r JOIN files f ON f.file_no = r.file_no

-- name: reconciliation
-- Every input line counted once: used, out of scope or refused, with the reason.
SELECT file, 'refused' AS status, reason, CAST(count(*) AS BIGINT) AS lines FROM refusals GROUP BY file, reason
UNION ALL
SELECT f.file, c.status, c.reason, c.lines
FROM (
  SELECT file_no, status, reason, CAST(count(*) AS BIGINT) AS lines
  FROM (
    SELECT file_no, 'used' AS status, 'patient' AS reason FROM patients
    UNION ALL
    SELECT r.file_no,
           CASE WHEN u.line_no IS NOT NULL THEN 'used' ELSE 'out of scope' END,
           CASE WHEN u.line_no IS NOT NULL THEN 'read by the audit'
                WHEN r.rtype NOT IN ('Condition', 'ServiceRequest', 'ImagingStudy', 'MedicationStatement', 'MedicationRequest')
                     THEN 'resource type not audited'
                WHEN r.rtype = 'Condition' AND r.verification = 'entered-in-error' THEN 'entered in error'
                WHEN r.status IN ('entered-in-error', 'cancelled', 'revoked') THEN concat('status ', r.status)
                ELSE 'no code of the audit' END
    FROM records r
    LEFT JOIN (SELECT DISTINCT file_no, line_no FROM record_codes) u ON u.file_no = r.file_no AND u.line_no = r.line_no
    WHERE r.patient_id IS NOT NULL
  ) l
  GROUP BY file_no, status, reason
) c JOIN files f ON f.file_no = c.file_no

-- name: episodes
-- A diagnosis of low back pain or leg nerve pain (active, not refuted) with none in the
-- {negative_history_days} days before it starts an episode (the index diagnosis); the episode lasts until
-- the next one starts (no two start on one day: the second has one 0 days before it). A Condition with
-- two index codes is two rows on one day: the first in code order names the presentation, and the
-- second, 0 days after it, starts nothing.
SELECT e.patient_id, e.condition_id AS episode_id, e.d AS index_date, e.presentation, e.practitioner
FROM (
  SELECT patient_id, id AS condition_id, d, key AS presentation, performer AS practitioner,
         lag(d) OVER (PARTITION BY patient_id ORDER BY d, id, key) AS previous_date
  FROM record_codes
  WHERE role = 'index' AND d IS NOT NULL AND coalesce(clinical, 'active') IN ('active', 'recurrence', 'relapse')
    AND coalesce(verification, '') <> 'refuted'
) e
WHERE e.previous_date IS NULL OR @days(e.previous_date, e.d) > {negative_history_days}

-- name: episode_exclusion_keys
SELECT DISTINCT e.episode_id, k.key
FROM episodes e
JOIN record_codes r ON r.patient_id = e.patient_id
JOIN exclusion_windows k ON k.key = r.key
WHERE ((r.role = 'exclusion' AND coalesce(r.verification, '') <> 'refuted'
        AND @days(e.index_date, r.d) BETWEEN -k.before_days AND k.after_days)
    OR (r.role = 'medication' AND @days(e.index_date, r.d) BETWEEN -k.before_days AND k.after_days
        AND @days(r.d, coalesce(r.end_d, DATE '{as_of}')) >= k.min_days))

-- view: episode_exclusions
SELECT episode_id, @sorted_join(key) AS exclusions FROM episode_exclusion_keys GROUP BY episode_id

-- view: episode_imaging
SELECT e.episode_id, min(@days(e.index_date, r.d)) AS first_imaging_days, min(r.key) AS modality
FROM episodes e JOIN record_codes r ON r.patient_id = e.patient_id
WHERE r.rtype = 'ImagingStudy' AND r.role = 'imaging'
  AND @days(e.index_date, r.d) BETWEEN 0 AND {imaging_window_days}
GROUP BY e.episode_id

-- name: episode_measure
-- Part 1, per episode: the HEDIS-style measure (imaging within {imaging_window_days} days, with its exclusions).
SELECT episode_id, patient_id, organisation, practitioner, month, presentation, index_date, age, age_band,
       exclusions, window_complete, eligible, denominator, numerator, first_imaging_days, modality
FROM (
  SELECT e.episode_id, e.patient_id, coalesce(e.organisation, 'unknown') AS organisation,
         coalesce(e.practitioner, 'unknown') AS practitioner, substr(CAST(e.index_date AS STRING), 1, 7) AS month,
         e.presentation, e.index_date, e.age,
         CASE WHEN e.age BETWEEN {min_age} AND 64 THEN '{min_age}-64'
              WHEN e.age BETWEEN 65 AND {max_age} THEN '65-{max_age}' ELSE 'outside' END AS age_band,
         coalesce(x.exclusions, '') AS exclusions,
         @days(e.index_date, DATE '{as_of}') >= {imaging_window_days} AS window_complete,
         coalesce(e.age BETWEEN {min_age} AND {max_age}, false) AS eligible,
         coalesce(e.age BETWEEN {min_age} AND {max_age}, false) AND @days(e.index_date, DATE '{as_of}') >= {imaging_window_days}
           AND x.exclusions IS NULL AS denominator,
         coalesce(e.age BETWEEN {min_age} AND {max_age}, false) AND @days(e.index_date, DATE '{as_of}') >= {imaging_window_days}
           AND x.exclusions IS NULL AND i.episode_id IS NOT NULL AS numerator,
         i.first_imaging_days, i.modality
  FROM (
    SELECT e.episode_id, e.patient_id, e.practitioner, e.index_date, e.presentation, p.organisation,
           year(e.index_date) - year(p.birth_date)
             - CASE WHEN month(e.index_date) * 100 + day(e.index_date) < month(p.birth_date) * 100 + day(p.birth_date)
                    THEN 1 ELSE 0 END AS age
    FROM patients p JOIN episodes e ON e.patient_id = p.patient_id
  ) e
  LEFT JOIN episode_exclusions x ON x.episode_id = e.episode_id
  LEFT JOIN episode_imaging i ON i.episode_id = e.episode_id
) m

-- view: card_conditions
-- The Conditions the CDS order card would read (codes of terminology.yaml), with their statuses. A
-- presentation is a Condition whose coding is also an index code (record_codes keeps a Condition for
-- the index and card roles alike, so the codes table alone says it).
SELECT r.patient_id, r.d, r.onset, (i.code IS NOT NULL) AS presentation,
       concat(r.system, '|', r.code, '|', coalesce(r.clinical, ''), '|', coalesce(r.verification, ''), '|') AS stem
FROM record_codes r
LEFT JOIN (SELECT DISTINCT system, code FROM codes WHERE role = 'index') i ON i.system = r.system AND i.code = r.code
WHERE r.role = 'card'

-- name: order_dates
-- Lumbar imaging orders with the episode they fall in (the last to start by the order date), and the
-- two dates they are reviewed on: the order date, and {later_days} days later (or the audit date, if
-- sooner) for "indicated later".
SELECT r.id AS order_id, r.patient_id, r.d AS order_date,
       least(@add_days(r.d, {later_days}), DATE '{as_of}') AS later_date,
       coalesce(min(r.performer), 'unknown') AS practitioner, min(r.key) AS modality,
       @arg_max(e.episode_id, e.index_date) AS episode_id,
       min(p.gender) AS gender, min(p.birth_date) AS birth_date
FROM patients p
JOIN (SELECT * FROM record_codes WHERE rtype = 'ServiceRequest' AND role = 'imaging' AND d IS NOT NULL) r
  ON r.patient_id = p.patient_id
LEFT JOIN episodes e ON e.patient_id = r.patient_id AND e.index_date <= r.d
GROUP BY r.id, r.patient_id, r.d

-- name: orders
-- Each order with the signature of what the CDS order card would read on each review date: the age
-- and sex, and every Condition it knows recorded by then, with its statuses and, for a presentation,
-- the days from its onset. Ages and days are written as the representative of their band (value_bands).
-- One join of each order with its patient's card Conditions up to the later date gives both signatures
-- (a Condition recorded after the order date counts for the later one only).
SELECT o.order_id, o.patient_id, o.order_date, o.later_date, o.practitioner, o.modality, o.episode_id,
       concat(coalesce(CAST(@band(age, o.age) AS STRING), ''), '#', coalesce(o.gender, ''), '#',
              coalesce(@sorted_join(CASE WHEN c.stem IS NOT NULL AND c.d <= o.order_date THEN concat(c.stem,
                  CASE WHEN c.presentation AND c.onset IS NOT NULL
                       THEN CAST(@band(duration_days, @days(c.onset, o.order_date)) AS STRING)
                       ELSE '' END) END), '')) AS signature,
       concat(coalesce(CAST(@band(age, o.later_age) AS STRING), ''), '#', coalesce(o.gender, ''), '#',
              coalesce(@sorted_join(CASE WHEN c.stem IS NOT NULL THEN concat(c.stem,
                  CASE WHEN c.presentation AND c.onset IS NOT NULL
                       THEN CAST(@band(duration_days, @days(c.onset, o.later_date)) AS STRING)
                       ELSE '' END) END), '')) AS later_signature
FROM (
  SELECT order_id, patient_id, order_date, later_date, practitioner, modality, episode_id, gender,
         year(order_date) - year(birth_date)
           - CASE WHEN month(order_date) * 100 + day(order_date) < month(birth_date) * 100 + day(birth_date)
                  THEN 1 ELSE 0 END AS age,
         year(later_date) - year(birth_date)
           - CASE WHEN month(later_date) * 100 + day(later_date) < month(birth_date) * 100 + day(birth_date)
                  THEN 1 ELSE 0 END AS later_age
  FROM order_dates
) o
LEFT JOIN card_conditions c ON c.patient_id = o.patient_id AND c.d <= o.later_date
GROUP BY o.order_id, o.patient_id, o.order_date, o.later_date, o.practitioner, o.modality, o.episode_id,
         o.gender, o.age, o.later_age

-- stage: 2
-- name: order_verdicts
-- Part 2: pinchpoint's verdict on each lumbar imaging order beside what the measure says of it.
-- verdict and card_warns are the CDS order card's review on the order date; verdict_later and
-- card_warns_later its review of the record {later_days} days later. pinchpoint says: indicated (the
-- imaging rules or the plan call for it on the order date), undetermined (left to the clinician),
-- not indicated (the card warns, and still does not find it indicated later), indicated later (the
-- card warns on the order date, but the record {later_days} days later makes it indicated).
SELECT o.order_id, o.patient_id, o.order_date, o.practitioner, o.modality, o.episode_id,
       v.verdict, v.card_warns, v.reasons, o.later_date, l.verdict AS verdict_later, l.card_warns AS card_warns_later,
       CASE WHEN v.verdict = 'unreadable' THEN 'unreadable'
            WHEN v.verdict = 'indicated' OR v.plan_offers THEN 'indicated'
            WHEN NOT v.card_warns THEN 'undetermined'
            WHEN l.verdict = 'indicated' OR l.plan_offers THEN 'indicated later'
            ELSE 'not indicated' END AS pinchpoint,
       CASE WHEN o.episode_id IS NULL THEN 'no episode'
            WHEN NOT m.eligible THEN 'age outside the measure'
            WHEN NOT m.window_complete THEN 'window not complete'
            WHEN m.exclusions <> '' THEN 'excluded'
            WHEN @days(m.index_date, o.order_date) > {imaging_window_days} THEN 'after the window'
            ELSE 'low value by the measure' END AS measure_class
FROM orders o JOIN verdicts v ON v.signature = o.signature
JOIN verdicts l ON l.signature = o.later_signature
LEFT JOIN episode_measure m ON m.episode_id = o.episode_id

-- view: agreement
SELECT measure_class, pinchpoint, verdict, card_warns, CAST(count(*) AS BIGINT) AS orders
FROM order_verdicts GROUP BY measure_class, pinchpoint, verdict, card_warns

-- view: warning_first
-- Part 3: the first record of each warning sign per patient (for cancer with new neurology, the later
-- of the two records of the first pair within the window).
SELECT r.patient_id, r.key AS warning, min(r.d) AS first_date
FROM record_codes r JOIN warning_defs w ON w.key = r.key
WHERE r.role = 'warning' AND w.neurology_within IS NULL AND coalesce(r.verification, '') <> 'refuted' AND r.d IS NOT NULL
GROUP BY r.patient_id, r.key
UNION ALL
SELECT a.patient_id, a.key, min(greatest(a.d, b.d))
FROM record_codes a JOIN warning_defs w ON w.key = a.key
JOIN record_codes b ON b.patient_id = a.patient_id AND b.role = 'neurology' AND b.key = a.key
WHERE a.role = 'warning' AND w.neurology_within IS NOT NULL
  AND coalesce(a.verification, '') <> 'refuted' AND coalesce(b.verification, '') <> 'refuted'
  AND abs(@days(a.d, b.d)) <= w.neurology_within
GROUP BY a.patient_id, a.key

-- name: warning_signs
SELECT f.patient_id, f.warning, f.first_date, w.demands, w.max_days, m.days_to_mri,
       CASE WHEN m.days_to_mri IS NOT NULL AND m.days_to_mri <= w.max_days THEN 'in time'
            WHEN m.days_to_mri IS NOT NULL THEN 'late'
            WHEN @days(f.first_date, DATE '{as_of}') <= w.max_days THEN 'not yet due'
            ELSE 'missed: no MRI' END AS outcome
FROM warning_first f JOIN warning_defs w ON w.key = f.warning
LEFT JOIN (
  SELECT f2.patient_id, f2.warning, min(greatest(@days(f2.first_date, r.d), 0)) AS days_to_mri
  FROM warning_first f2
  JOIN record_codes r ON r.patient_id = f2.patient_id AND r.rtype = 'ImagingStudy' AND r.role = 'mri'
  WHERE @days(f2.first_date, r.d) >= -{mri_lookback_days}
  GROUP BY f2.patient_id, f2.warning
) m ON m.patient_id = f.patient_id AND m.warning = f.warning

-- view: warning_outcomes
-- How many patients had each warning sign, by outcome.
SELECT warning, outcome, CAST(count(*) AS BIGINT) AS patients FROM warning_signs GROUP BY warning, outcome

-- view: late_warnings
-- The first {report_rows} late or missed warning signs for the report (all of them are in warning_signs).
SELECT * FROM warning_signs WHERE outcome IN ('late', 'missed: no MRI')
ORDER BY first_date, patient_id, warning LIMIT {report_rows}

-- name: rates
-- Imaging rate (numerator / denominator) with Wilson score intervals, overall and per organisation,
-- practitioner, month and age band (NULL, not an error, when no episode is in the denominator).
SELECT dimension, value, denominator, numerator,
       round(p, 6) AS rate,
       round(greatest((p + zz / (2 * n)) / (1 + zz / n) - {z} * sqrt(p * (1 - p) / n + zz / (4 * n * n)) / (1 + zz / n), 0.0), 6) AS low,
       round(least((p + zz / (2 * n)) / (1 + zz / n) + {z} * sqrt(p * (1 - p) / n + zz / (4 * n * n)) / (1 + zz / n), 1.0), 6) AS high
FROM (
  SELECT dimension, value, denominator, numerator, CAST(nullif(denominator, 0) AS DOUBLE) AS n,
         CAST(numerator AS DOUBLE) / CAST(nullif(denominator, 0) AS DOUBLE) AS p, {z} * {z} AS zz
  FROM (
    SELECT 'total' AS dimension, 'all' AS value, CAST(count(*) AS BIGINT) AS denominator,
           CAST(sum(CASE WHEN numerator THEN 1 ELSE 0 END) AS BIGINT) AS numerator
    FROM episode_measure WHERE denominator
    UNION ALL
    SELECT 'organisation', organisation, CAST(count(*) AS BIGINT), CAST(sum(CASE WHEN numerator THEN 1 ELSE 0 END) AS BIGINT)
    FROM episode_measure WHERE denominator GROUP BY organisation
    UNION ALL
    SELECT 'practitioner', practitioner, CAST(count(*) AS BIGINT), CAST(sum(CASE WHEN numerator THEN 1 ELSE 0 END) AS BIGINT)
    FROM episode_measure WHERE denominator GROUP BY practitioner
    UNION ALL
    SELECT 'month', month, CAST(count(*) AS BIGINT), CAST(sum(CASE WHEN numerator THEN 1 ELSE 0 END) AS BIGINT)
    FROM episode_measure WHERE denominator GROUP BY month
    UNION ALL
    SELECT 'age_band', age_band, CAST(count(*) AS BIGINT), CAST(sum(CASE WHEN numerator THEN 1 ELSE 0 END) AS BIGINT)
    FROM episode_measure WHERE denominator GROUP BY age_band
  ) g
) w

-- view: funnel
-- How episodes become the denominator, and how often each exclusion applies among otherwise eligible episodes.
SELECT 'episodes' AS step, CAST(count(*) AS BIGINT) AS episodes FROM episode_measure
UNION ALL
SELECT 'age in range', CAST(count(*) AS BIGINT) FROM episode_measure WHERE eligible
UNION ALL
SELECT 'window complete', CAST(count(*) AS BIGINT) FROM episode_measure WHERE eligible AND window_complete
UNION ALL
SELECT 'not excluded (denominator)', CAST(count(*) AS BIGINT) FROM episode_measure WHERE denominator
UNION ALL
SELECT 'imaged within the window (numerator)', CAST(count(*) AS BIGINT) FROM episode_measure WHERE numerator
UNION ALL
SELECT concat('excluded: ', k.key), CAST(count(*) AS BIGINT)
FROM episode_exclusion_keys k JOIN episode_measure m ON m.episode_id = k.episode_id
WHERE m.eligible AND m.window_complete GROUP BY k.key


-- view: report_rates
-- The rates the report and the MeasureReport show (per practitioner: in the rates table only).
SELECT * FROM rates WHERE dimension <> 'practitioner'
