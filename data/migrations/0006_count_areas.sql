-- Polygons with counts (a census grid, last year's boundaries…) from which
-- units without counts of their own get theirs by areal interpolation.
CREATE TABLE count_areas (
    id          bigserial PRIMARY KEY,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    households  integer CHECK (households >= 0),
    population  integer CHECK (population >= 0),
    import_id   bigint REFERENCES imports (id),
    area_m2     double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED
);
CREATE INDEX count_areas_geom ON count_areas USING gist (geom);
