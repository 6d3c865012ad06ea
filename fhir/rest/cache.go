package rest

import (
	"container/list"
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"mig/adapters"
	"mig/adapters/record"
	"mig/fhir"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// Cache keeps, in process memory only, what extracts were turned into, so
// that a request whose live extract has the same bytes (SHA-256) as one
// parsed moments ago reuses that work. Every request still fetches the
// extract from the GP system; what is reused is:
//
//   - the parsed record (translations filled), keyed by practice, NHS
//     number, format, the bytes' SHA-256 and the pipeline version (the
//     configuration and terminology in force): adapters.ParseCache;
//   - for each such record, a few mapped versions (fhir.Result, and each
//     resource's JSON as it is first sent, with and without the emergency
//     label), each keyed by everything about the request and the clock
//     that mapping depends on (signature): the views each entry is in at
//     this moment, which entries this request's rules withhold, which
//     authorisations' end dates have passed.
//
// So what depends on the requester or the clock still runs on every
// request: the identity check and demographics (adapters.Reader),
// CanSee, record.Tag with the request's clock (the Summary's periods,
// ended medication), every entry's WillSee (agreement views, sensitive
// codes), the Patient resource, the emergency label, filtering and paging.
// A parse that read the clock (a format judging status against the
// present) is not kept. Cached objects are never changed: a request works
// on its own copy of the entries, maps its own Patient, and encodes shared
// resources through the cache (an emergency label goes on a copy).
//
// The cache is bounded in bytes (an estimate: see cost) and in time (an
// entry is dropped TTL after its parse, however often it is used), and is
// emptied by Reset when the configuration changes.
type Cache struct {
	max   int64
	ttl   time.Duration
	clock func() time.Time

	mu        sync.Mutex
	version   string
	entries   map[cacheKey]*cacheEntry
	lru       list.List // of *cacheEntry, most recently used first
	bytes     int64
	lastSweep time.Time
	stats     CacheStats
}

// CacheOptions configure a Cache.
type CacheOptions struct {
	MaxBytes int64         // estimated bytes held at most; <= 0: no cache (NewCache returns nil)
	TTL      time.Duration // an entry's life from its parse (default 5 min)
	// Version names the pipeline in force (configuration and terminology):
	// part of every key, so a record parsed under another never matches.
	Version string
	Clock   func() time.Time // the TTL's clock (default time.Now)
}

// Defaults of CacheOptions.
const (
	DefaultCacheMaxBytes = 64 << 20
	DefaultCacheTTL      = 5 * time.Minute
	// maxVariants is how many mapped versions of one extract are kept (one
	// per distinct signature: requesters under different agreements, the
	// Summary either side of a boundary).
	maxVariants = 4
)

// CacheStats counts what the cache did, for metrics.
type CacheStats struct {
	Hits      uint64 // parsed records reused
	Misses    uint64 // extracts parsed (not held, expired, or another version)
	Clocked   uint64 // of those, parses that read the clock: not kept
	MapHits   uint64 // mapped records reused
	MapMisses uint64 // records mapped for a signature not held
	Evictions uint64 // entries dropped to stay under MaxBytes
	Expired   uint64 // entries dropped at their TTL
	Resets    uint64 // times the cache was emptied (configuration changed)
	Entries   int    // extracts held now
	Bytes     int64  // their estimated size
}

type cacheKey struct {
	version string
	x       adapters.Extract
}

// cacheEntry is one parsed extract and its mapped versions.
type cacheEntry struct {
	key      cacheKey
	elem     *list.Element
	rec      *record.Record // shared: never changed
	born     time.Time
	size     int64      // the parsed record's cost plus its variants' (Cache.mu)
	gone     bool       // dropped: its bytes are no longer counted (Cache.mu)
	variants []*variant // most recently used first (Cache.mu)
}

// variant is a record mapped for one signature.
type variant struct {
	entry *cacheEntry
	sig   []byte
	rec   *record.Record // the tagged copy it was mapped from: never changed
	res   *fhir.Result   // its Patient is the first mapper's: each request maps its own
	enc   map[*bcrpb.ContainedResource]*encodings
	size  int64 // Cache.mu
	gone  bool  // Cache.mu
}

// encodings are one shared resource's JSON, made when first sent.
type encodings struct{ plain, emergency lazyJSON }

type lazyJSON struct {
	once sync.Once
	b    []byte
	err  error
}

// NewCache returns a cache, or nil (no caching) when opt.MaxBytes <= 0.
func NewCache(opt CacheOptions) *Cache {
	if opt.MaxBytes <= 0 {
		return nil
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultCacheTTL
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	return &Cache{max: opt.MaxBytes, ttl: opt.TTL, clock: opt.Clock, version: opt.Version, entries: map[cacheKey]*cacheEntry{}}
}

// Stats returns the counts so far and what is held now.
func (c *Cache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Entries, st.Bytes = len(c.entries), c.bytes
	return st
}

// Reset empties the cache and keys what follows by version: called when
// the configuration or terminology changes. Requests holding a dropped
// record finish with it; nothing new is kept under the old version.
func (c *Cache) Reset(version string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		c.dropLocked(e)
	}
	c.version = version
	c.stats.Resets++
}

// Run drops expired entries every TTL/4 until ctx ends, so a record is not
// held in memory past its TTL when no request comes to find it stale.
func (c *Cache) Run(ctx context.Context) {
	if c == nil {
		return
	}
	t := time.NewTicker(max(c.ttl/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			c.sweepLocked(c.clock())
			c.mu.Unlock()
		}
	}
}

// Parsed implements adapters.ParseCache.
func (c *Cache) Parsed(x adapters.Extract, parse func() (*record.Record, bool, error)) (*record.Record, error) {
	if c == nil {
		rec, _, err := parse()
		return rec, err
	}
	now := c.clock()
	c.mu.Lock()
	c.sweepLocked(now)
	key := cacheKey{c.version, x}
	if e := c.entries[key]; e != nil && now.Sub(e.born) >= c.ttl {
		c.dropLocked(e)
		c.stats.Expired++
	} else if e != nil {
		c.lru.MoveToFront(e.elem)
		c.stats.Hits++
		c.mu.Unlock()
		return e.rec, nil
	}
	c.stats.Misses++
	c.mu.Unlock()

	rec, clocked, err := parse()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if clocked {
		c.stats.Clocked++
		return rec, nil
	}
	if key.version != c.version || c.entries[key] != nil {
		return rec, nil // reset meanwhile, or another request parsed the same bytes
	}
	e := &cacheEntry{key: key, rec: rec, born: now, size: recordCost(x, rec)}
	if e.size > c.max {
		return rec, nil
	}
	e.elem = c.lru.PushFront(e)
	c.entries[key] = e
	c.bytes += e.size
	c.evictLocked()
	return rec, nil
}

// sweepLocked drops entries past their TTL (at most every TTL/4).
func (c *Cache) sweepLocked(now time.Time) {
	if now.Sub(c.lastSweep) < c.ttl/4 && !c.lastSweep.IsZero() {
		return
	}
	c.lastSweep = now
	for _, e := range c.entries {
		if now.Sub(e.born) >= c.ttl {
			c.dropLocked(e)
			c.stats.Expired++
		}
	}
}

// evictLocked drops the least recently used entries while over budget.
func (c *Cache) evictLocked() {
	for c.bytes > c.max && c.lru.Len() > 0 {
		c.dropLocked(c.lru.Back().Value.(*cacheEntry))
		c.stats.Evictions++
	}
}

func (c *Cache) dropLocked(e *cacheEntry) {
	if e.gone {
		return
	}
	e.gone = true
	for _, v := range e.variants {
		v.gone = true
	}
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// liveLocked returns the entry held for x, if it is still within its TTL.
func (c *Cache) liveLocked(x adapters.Extract) *cacheEntry {
	e := c.entries[cacheKey{c.version, x}]
	if e == nil || c.clock().Sub(e.born) >= c.ttl {
		return nil
	}
	return e
}

// variant returns the mapped version of x's record for sig, if held.
func (c *Cache) variant(x adapters.Extract, sig []byte) *variant {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.liveLocked(x)
	if e == nil {
		return nil
	}
	for i, v := range e.variants {
		if string(v.sig) == string(sig) {
			copy(e.variants[1:i+1], e.variants[:i]) // most recently used first
			e.variants[0] = v
			c.stats.MapHits++
			return v
		}
	}
	return nil
}

// keepVariant holds a newly mapped version of x's record, if x's parsed
// record is still held.
func (c *Cache) keepVariant(x adapters.Extract, sig []byte, rec *record.Record, res *fhir.Result) *variant {
	v := &variant{sig: sig, rec: rec, res: res, enc: make(map[*bcrpb.ContainedResource]*encodings, len(res.Resources))}
	for i := range res.Resources {
		v.enc[res.Resources[i].Proto] = &encodings{}
	}
	v.size = variantCost(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.MapMisses++
	e := c.liveLocked(x)
	if e == nil || v.size > c.max {
		return nil
	}
	v.entry = e
	if len(e.variants) >= maxVariants {
		old := e.variants[len(e.variants)-1]
		old.gone = true
		e.size -= old.size
		c.bytes -= old.size
		e.variants = e.variants[:len(e.variants)-1]
	}
	e.variants = append([]*variant{v}, e.variants...)
	e.size += v.size
	c.bytes += v.size
	c.evictLocked()
	return v
}

// charge counts n more bytes held by v (a resource's JSON, made once).
func (c *Cache) charge(v *variant, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.gone {
		return
	}
	v.size += int64(n)
	v.entry.size += int64(n)
	c.bytes += int64(n)
	c.evictLocked()
}

// The size estimates, measured on the 26-year GP2GP record (783 KB of
// XML: 553 entries held in 0.56 MB, 443 resources as protos in 2.7 MB,
// 0.58 MB of JSON) and the small samples, rounded up.
const (
	entryCost    = 512  // a record.Entry (448 bytes) and its share of what it points to
	resourceCost = 8192 // a mapped resource's protos
)

func recordCost(x adapters.Extract, rec *record.Record) int64 {
	return 1024 + int64(x.Size) + int64(len(rec.Entries))*entryCost
}

func variantCost(v *variant) int64 {
	return 1024 + int64(len(v.sig)) + int64(len(v.rec.Entries))*entryCost + int64(len(v.res.Resources))*(resourceCost+64)
}

// encode returns a resource's JSON, with the emergency label when asked.
// A resource of v is encoded once per label and never changed (the label
// goes on a copy); any other resource (the request's own Patient) is
// encoded as it stands.
func (v *variant) encode(c *Cache, rs fhir.Resource, emergency bool) ([]byte, error) {
	var e *encodings
	if v != nil {
		e = v.enc[rs.Proto]
	}
	if e == nil {
		return encodeOwn(rs.Proto, emergency)
	}
	lj := &e.plain
	if emergency {
		lj = &e.emergency
	}
	lj.once.Do(func() {
		p := rs.Proto
		if emergency {
			p = proto.Clone(p).(*bcrpb.ContainedResource)
			markEmergency(p)
		}
		lj.b, lj.err = fhir.MarshalResource(p)
		if lj.err == nil {
			c.charge(v, len(lj.b))
		}
	})
	return lj.b, lj.err
}

// encodeOwn encodes a resource only this request holds.
func encodeOwn(cr *bcrpb.ContainedResource, emergency bool) ([]byte, error) {
	if emergency {
		markEmergency(cr)
	}
	return fhir.MarshalResource(cr)
}

// viewBit numbers the views for signatures.
var viewBit = func() map[record.View]uint16 {
	m := map[record.View]uint16{}
	for i, v := range record.AllViews() {
		m[v] = 1 << i
	}
	return m
}()
