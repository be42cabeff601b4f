-- No query looks reports up by reporter (per-reporter figures read the whole
-- table), yet every report paid an insert into this index at a random place:
-- as the database grows that is one more page written per report. Append-only.
DROP INDEX reports_reporter;
