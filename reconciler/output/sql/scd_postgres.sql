-- The nightly status tables as a slowly changing dimension (type 2), for PostgreSQL.
--
-- One row per record (key) and period of unchanged status: the status columns, valid_from (the date
-- of the first night that reported them), valid_to (the date of the night that reported something
-- else, or the first night the key was no longer in the table; null while the period lasts) and
-- current (true for the period that lasts). valid_from_run_id tells two runs of one date apart.
--
-- A period ends when any status column differs: recon_status, completed, lastDisposition, lastDate,
-- lastPhone, lastCallDuration, lastAgent, totalAttempts, globalInteractionID, completedTime (the
-- columns the change feed compares). A night whose row for a key ended in error says nothing of its
-- status: the period goes on, and the key still counts as in the table. Rows whose key was unusable
-- (invalid_input) are left out. valid_from is the first night that saw the status, not the day the
-- contact center set it (lastDate says when a call did).
--
-- Placeholders, filled by `reconciler sql scd --dialect postgres --key COLUMN [--key COLUMN ...]`:
--   {view}    the view's name (default recon_status_history)
--   {keys}    the --key columns, quoted: "account_id" (a composite key: "region", "account_id")
--   {source}  every night's status table: the table that --output postgresql://...?table=NAME writes
--               (default recon_status)

CREATE OR REPLACE VIEW {view} AS
WITH nightly AS (  -- every row of every night, but those whose key was unusable
    SELECT {keys}, recon_run_id, recon_run_date, recon_status, completed, "lastDisposition", "lastDate",
           "lastPhone", "lastCallDuration", "lastAgent", "totalAttempts", "globalInteractionID", "completedTime"
    FROM {source}
    WHERE recon_status <> 'invalid_input'
),
runs AS (  -- the nights in order (a run id sorts by its start), each with the date of the next
    SELECT recon_run_id, recon_run_date,
           lead(recon_run_date) OVER (ORDER BY recon_run_id) AS next_run_date,
           recon_run_id = max(recon_run_id) OVER () AS latest
    FROM (SELECT DISTINCT recon_run_id, recon_run_date FROM nightly) AS each_run
),
last_seen AS (  -- the last night each key was in the table, answered or in error
    SELECT {keys}, max(recon_run_id) AS last_run_id
    FROM nightly
    GROUP BY {keys}
),
observed AS (  -- what each night said of each key (rows that repeat a key say the same)
    SELECT DISTINCT *
    FROM nightly
    WHERE recon_status IN ('found', 'not_found')
),
marked AS (  -- a period starts at a key's first answer, and wherever a status column differs from the last one
    SELECT observed.*,
           lag(recon_run_id) OVER w IS NULL
           OR lag(recon_status) OVER w IS DISTINCT FROM recon_status
           OR lag(completed) OVER w IS DISTINCT FROM completed
           OR lag("lastDisposition") OVER w IS DISTINCT FROM "lastDisposition"
           OR lag("lastDate") OVER w IS DISTINCT FROM "lastDate"
           OR lag("lastPhone") OVER w IS DISTINCT FROM "lastPhone"
           OR lag("lastCallDuration") OVER w IS DISTINCT FROM "lastCallDuration"
           OR lag("lastAgent") OVER w IS DISTINCT FROM "lastAgent"
           OR lag("totalAttempts") OVER w IS DISTINCT FROM "totalAttempts"
           OR lag("globalInteractionID") OVER w IS DISTINCT FROM "globalInteractionID"
           OR lag("completedTime") OVER w IS DISTINCT FROM "completedTime" AS starts
    FROM observed
    WINDOW w AS (PARTITION BY {keys} ORDER BY recon_run_id)
),
periods AS (
    SELECT {keys}, recon_status, completed, "lastDisposition", "lastDate", "lastPhone", "lastCallDuration",
           "lastAgent", "totalAttempts", "globalInteractionID", "completedTime",
           recon_run_id AS valid_from_run_id, recon_run_date AS valid_from,
           lead(recon_run_date) OVER (PARTITION BY {keys} ORDER BY recon_run_id) AS next_valid_from
    FROM marked
    WHERE starts
)
SELECT {keys}, recon_status, completed, "lastDisposition", "lastDate", "lastPhone", "lastCallDuration",
       "lastAgent", "totalAttempts", "globalInteractionID", "completedTime", valid_from_run_id, valid_from,
       CASE WHEN next_valid_from IS NOT NULL THEN next_valid_from
            WHEN runs.latest THEN NULL
            ELSE runs.next_run_date END AS valid_to,
       next_valid_from IS NULL AND runs.latest AS current
FROM periods
JOIN last_seen USING ({keys})
JOIN runs ON runs.recon_run_id = last_seen.last_run_id;
