-- A supervisor's review of a break-glass use says whether it was justified or is flagged for
-- follow-up (issue 18). Reviews made before this column existed count as justified.
ALTER TABLE break_glass_grants ADD COLUMN review_verdict TEXT
    CHECK (review_verdict IN ('justified', 'flagged'));
UPDATE break_glass_grants SET review_verdict = 'justified' WHERE reviewed_at IS NOT NULL;
