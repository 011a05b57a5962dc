ALTER TABLE break_glass_grants DROP COLUMN review_verdict;
