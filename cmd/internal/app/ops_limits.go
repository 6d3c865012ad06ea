package app

// instrumentLimits reads the node's admission control and extract cache
// into the metrics at each scrape (their counts live in fhir/rest; both
// are nil-safe when switched off).
func (m *Main) instrumentLimits() {
	adm, cache := m.admission, m.cache
	m.metrics.CountersFunc("admission_requests_total",
		"Requests through admission control, by decision: admitted at once, admitted after waiting for a slot, refused 503 OVERLOADED.",
		"decision", func() map[string]float64 {
			st := adm.Stats()
			return map[string]float64{"admitted": float64(st.Admitted), "waited": float64(st.Waited), "refused": float64(st.Refused)}
		})
	m.metrics.GaugeFunc("admission_in_flight", "Requests holding an admission slot now.", func() float64 {
		return float64(adm.Stats().InFlight)
	})
	m.metrics.CountersFunc("cache_parse_total", "Extract parses asked of the cache: hit (a parsed record reused) or miss (parsed).",
		"result", func() map[string]float64 {
			st := cache.Stats()
			return map[string]float64{"hit": float64(st.Hits), "miss": float64(st.Misses)}
		})
	m.metrics.CountersFunc("cache_map_total", "Mappings asked of the cache: hit (a mapped record reused) or miss (mapped).",
		"result", func() map[string]float64 {
			st := cache.Stats()
			return map[string]float64{"hit": float64(st.MapHits), "miss": float64(st.MapMisses)}
		})
	m.metrics.CountersFunc("cache_evictions_total", "Cache entries dropped: to stay under cache.maxBytes (size) or at their TTL (ttl).",
		"reason", func() map[string]float64 {
			st := cache.Stats()
			return map[string]float64{"size": float64(st.Evictions), "ttl": float64(st.Expired)}
		})
	m.metrics.GaugeFunc("cache_bytes", "Estimated bytes the extract cache holds.", func() float64 { return float64(cache.Stats().Bytes) })
	m.metrics.GaugeFunc("cache_entries", "Extracts the cache holds.", func() float64 { return float64(cache.Stats().Entries) })
}
