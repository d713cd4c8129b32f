package wasm

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/tetratelabs/wazero"
)

// instrumentVersion changes whenever the interrupt instrumentation changes
// the code it emits, so that modules compiled by an older rewriter are never
// served from the in-memory cache. (The on-disk cache keys by the
// instrumented bytes already.)
const instrumentVersion = 1

// cacheKey identifies one compiled module: the same artifact compiled for
// another memory limit is another wazero module.
type cacheKey struct {
	digest     string
	pages      uint32
	instrument int
}

// compiledEntry is one compiled module in the cache. refs and evicted are
// guarded by moduleCache.mu: the module is closed once it is both evicted and
// no longer being instantiated.
type compiledEntry struct {
	key  cacheKey
	cm   wazero.CompiledModule
	size int64

	refs    int
	evicted bool
}

// moduleCache is an LRU of compiled modules bounded by estimated bytes
// (golang-lru's non-thread-safe core under our own lock; modules are closed
// by the callers, outside the lock).
type moduleCache struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[cacheKey, *compiledEntry]
	limit   int64
	bytes   int64
	owners  map[cacheKey]int // open Functions per key
	closing []wazero.CompiledModule

	hits, misses, evictions, compiles, cacheLoads uint64
}

func newModuleCache(limit int64) *moduleCache {
	c := &moduleCache{limit: limit, owners: make(map[cacheKey]int)}
	// The count bound is unused: the byte bound evicts.
	lru, err := simplelru.NewLRU(math.MaxInt, c.onEvict)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	c.lru = lru
	return c
}

// onEvict runs under c.mu, inside an lru call.
func (c *moduleCache) onEvict(_ cacheKey, e *compiledEntry) {
	c.bytes -= e.size
	e.evicted = true
	if e.refs == 0 {
		c.closing = append(c.closing, e.cm)
	}
}

// takeClosing returns the modules to close; call with c.mu held.
func (c *moduleCache) takeClosing() []wazero.CompiledModule {
	out := c.closing
	c.closing = nil
	return out
}

// acquire returns the cached entry for k, holding a reference to it.
func (c *moduleCache) acquire(k cacheKey, countStats bool) *compiledEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(k)
	if countStats {
		if ok {
			c.hits++
		} else {
			c.misses++
		}
	}
	if !ok {
		return nil
	}
	e.refs++
	return e
}

// add inserts a freshly compiled module and returns the entry to use, with a
// reference held, and modules to close. When another caller added the same
// key meanwhile, its entry wins and cm is returned for closing.
func (c *moduleCache) add(k cacheKey, cm wazero.CompiledModule, size int64, fromDisk bool) (*compiledEntry, []wazero.CompiledModule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fromDisk {
		c.cacheLoads++
	} else {
		c.compiles++
	}
	if e, ok := c.lru.Get(k); ok {
		e.refs++
		return e, []wazero.CompiledModule{cm}
	}
	e := &compiledEntry{key: k, cm: cm, size: size, refs: 1}
	c.lru.Add(k, e)
	c.bytes += size
	for c.bytes > c.limit && c.lru.Len() > 1 {
		c.lru.RemoveOldest()
		c.evictions++
	}
	return e, c.takeClosing()
}

// release drops a reference taken by acquire or add and returns the module
// to close, if it was evicted meanwhile.
func (c *moduleCache) release(e *compiledEntry) wazero.CompiledModule {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.evicted {
		return e.cm
	}
	return nil
}

// own registers an open Function for k.
func (c *moduleCache) own(k cacheKey) {
	c.mu.Lock()
	c.owners[k]++
	c.mu.Unlock()
}

// disown unregisters an open Function; the last one removes k's module.
func (c *moduleCache) disown(k cacheKey) []wazero.CompiledModule {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owners[k]--
	if c.owners[k] > 0 {
		return nil
	}
	delete(c.owners, k)
	c.lru.Remove(k)
	return c.takeClosing()
}

// purge removes everything and returns the modules to close.
func (c *moduleCache) purge() []wazero.CompiledModule {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
	return c.takeClosing()
}

func (c *moduleCache) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Modules:        c.lru.Len(),
		EstimatedBytes: c.bytes,
		Hits:           c.hits,
		Misses:         c.misses,
		Evictions:      c.evictions,
		Compiles:       c.compiles,
		CacheLoads:     c.cacheLoads,
	}
}
