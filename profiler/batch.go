package profiler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Defaults of BatchConfig's zero fields: the SDK's batch span processor's.
const (
	DefaultQueueSize     = 2048
	DefaultBatchSize     = 512
	DefaultBatchDelay    = 5 * time.Second
	DefaultExportTimeout = 30 * time.Second
)

// BatchConfig tunes span export. Zero fields take the Default* values.
type BatchConfig struct {
	// QueueSize bounds the spans waiting for export; the spans of an
	// invocation recorded while they would not fit are dropped and counted
	// (reason queue_full).
	QueueSize int
	// BatchSize is the most spans per export call (an invocation's spans
	// stay in one call).
	BatchSize int
	// Delay is the longest an invocation's spans wait before their export starts.
	Delay time.Duration
	// ExportTimeout bounds one export call.
	ExportTimeout time.Duration
}

func (c *BatchConfig) fill() {
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	c.BatchSize = min(c.BatchSize, c.QueueSize)
	if c.Delay <= 0 {
		c.Delay = DefaultBatchDelay
	}
	if c.ExportTimeout <= 0 {
		c.ExportTimeout = DefaultExportTimeout
	}
}

// dropReason says why a span never reached the backend.
type dropReason uint8

const (
	dropQueueFull    dropReason = iota // recorded while the queue was full
	dropExportFailed                   // the exporter failed on its batch
	dropShutdown                       // recorded after Shutdown
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "export_failed", "shutdown"}

func (r dropReason) String() string { return dropReasonNames[r] }

// batcher queues sampled invocations and exports their spans in batches
// from one goroutine: when BatchSize spans wait, when the oldest has waited
// Delay, or on a flush. Unlike the SDK's batch span processor, which drops
// silently, it counts every span it exports and every span it drops; and it
// builds the spans from the records only at export, off the request path.
type batcher struct {
	sender TraceSender
	cfg    BatchConfig
	enc    *encoder // the loop's

	mu      sync.Mutex
	queue   []record
	spans   int // spans in queue
	closed  bool
	kick    chan struct{}      // BatchSize spans are waiting
	flushes chan chan struct{} // ForceFlush asks, the loop answers when done
	stop    chan struct{}      // closed by Shutdown
	done    chan struct{}      // closed when the loop has exported the rest

	exported atomic.Uint64
	dropped  [numDropReasons]atomic.Uint64
}

func newBatcher(sender TraceSender, cfg BatchConfig, res *resource.Resource) *batcher {
	cfg.fill()
	b := &batcher{
		sender: sender, cfg: cfg, enc: newEncoder(res),
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go b.loop()
	return b
}

// add queues r for export and reports true, or counts its spans dropped.
// It never blocks.
func (b *batcher) add(r record) bool {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		b.dropped[dropShutdown].Add(uint64(r.n))
		return false
	case b.spans+r.n > b.cfg.QueueSize:
		b.mu.Unlock()
		b.dropped[dropQueueFull].Add(uint64(r.n))
		return false
	}
	full := b.spans < b.cfg.BatchSize && b.spans+r.n >= b.cfg.BatchSize
	b.queue = append(b.queue, r)
	b.spans += r.n
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// loop exports until Shutdown, then exports what is left.
func (b *batcher) loop() {
	defer close(b.done)
	var spare []record
	timer := time.NewTimer(b.cfg.Delay)
	defer timer.Stop()
	for {
		var ack chan struct{}
		select {
		case <-b.stop:
			b.drain(&spare)
			return
		case <-b.kick:
		case <-timer.C:
		case ack = <-b.flushes:
		}
		b.drain(&spare)
		if ack != nil {
			close(ack)
		}
		timer.Reset(b.cfg.Delay)
	}
}

// drain takes the queue (leaving *spare, emptied, in its place) and exports
// it in batches of at most BatchSize spans.
func (b *batcher) drain(spare *[]record) {
	b.mu.Lock()
	recs := b.queue
	b.queue, b.spans = (*spare)[:0], 0
	b.mu.Unlock()
	for start := 0; start < len(recs); {
		end, n := start, 0
		for end < len(recs) && (end == start || n+recs[end].n <= b.cfg.BatchSize) {
			n += recs[end].n
			end++
		}
		b.export(recs[start:end], n)
		start = end
	}
	clear(recs) // let the records go
	*spare = recs[:0]
}

// export uploads one batch of n spans.
func (b *batcher) export(recs []record, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ExportTimeout)
	defer cancel()
	if err := b.sender.Send(ctx, b.enc.encode(recs)); err != nil {
		b.dropped[dropExportFailed].Add(uint64(n))
		otel.Handle(err)
		return
	}
	b.exported.Add(uint64(n))
}

// flush exports the spans queued now and waits for it, or for ctx.
func (b *batcher) flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flushes <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown exports what is queued, then shuts the sender down. Spans recorded
// afterwards are dropped (reason shutdown).
func (b *batcher) shutdown(ctx context.Context) error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if already {
		return nil
	}
	close(b.stop)
	select {
	case <-b.done:
	case <-ctx.Done():
		return errors.Join(ctx.Err(), b.sender.Shutdown(ctx))
	}
	return b.sender.Shutdown(ctx)
}

// spanCounts is a snapshot of the counters.
type spanCounts struct {
	exported uint64
	dropped  [numDropReasons]uint64
}

func (b *batcher) counts() spanCounts {
	var c spanCounts
	c.exported = b.exported.Load()
	for r := range numDropReasons {
		c.dropped[r] = b.dropped[r].Load()
	}
	return c
}

func (b *batcher) stats() SpanStats {
	c := b.counts()
	s := SpanStats{Exported: c.exported}
	for _, d := range c.dropped {
		s.Dropped += d
	}
	return s
}
