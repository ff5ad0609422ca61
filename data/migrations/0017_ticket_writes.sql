-- No query reads tickets by place through an index (disputes join them by
-- id, the gap test looks at a handful of points), while every dispatch
-- writes up to 100,000 rows: the GiST index on tickets.geom cost each of
-- them its maintenance for nothing.
DROP INDEX IF EXISTS tickets_geom;
