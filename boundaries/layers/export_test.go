package layers

// SetFeatureCacheMB replaces r's feature cache (0: none), for tests that
// compare cached and uncached answers.
func SetFeatureCacheMB(r *Reader, mb int) { r.features = newFeatureCache(mb) }

// AddAllVersionsLayer registers "communities_all_versions": every version of
// every community whatever the day, so one query returns several versions
// of one code (as a span of days would). The returned func removes it.
func AddAllVersionsLayer() func() {
	l, _ := ByName("communities")
	v := *l
	v.Name = "communities_all_versions"
	v.from = `units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code
		WHERE u.level = 'community' AND $2::date IS NOT NULL`
	v.scenario = v.from
	n := len(All)
	All = append(All, v)
	return func() { All = All[:n] }
}
