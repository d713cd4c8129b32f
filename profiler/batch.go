package profiler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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
	// QueueSize bounds the spans waiting for export; a span ended while it
	// is full is dropped and counted (reason queue_full).
	QueueSize int
	// BatchSize is the most spans per export call.
	BatchSize int
	// Delay is the longest an ended span waits before its export starts.
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
	dropQueueFull    dropReason = iota // ended while the queue was full
	dropExportFailed                   // the exporter returned an error for its batch
	dropShutdown                       // ended after Shutdown
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "export_failed", "shutdown"}

func (r dropReason) String() string { return dropReasonNames[r] }

// batcher is a span processor like the SDK's batch span processor, except
// that it counts every span it drops (and every span exported): the SDK's
// drops silently. Ended sampled spans go to a bounded queue; one goroutine
// exports them in batches when BatchSize are waiting, when the oldest has
// waited Delay, or on a flush.
type batcher struct {
	exp sdktrace.SpanExporter
	cfg BatchConfig

	mu      sync.Mutex
	queue   []sdktrace.ReadOnlySpan // cap QueueSize
	closed  bool
	kick    chan struct{}      // BatchSize spans are waiting
	flushes chan chan struct{} // ForceFlush asks, the loop answers when done
	stop    chan struct{}      // closed by Shutdown
	done    chan struct{}      // closed when the loop has exported the rest

	exported atomic.Uint64
	dropped  [numDropReasons]atomic.Uint64
}

var _ sdktrace.SpanProcessor = (*batcher)(nil)

func newBatcher(exp sdktrace.SpanExporter, cfg BatchConfig) *batcher {
	cfg.fill()
	b := &batcher{
		exp: exp, cfg: cfg,
		queue:   make([]sdktrace.ReadOnlySpan, 0, cfg.QueueSize),
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go b.loop()
	return b
}

// OnStart does nothing: spans are exported once ended.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span for export, or counts it dropped. It never blocks.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		b.dropped[dropShutdown].Add(1)
		return
	case len(b.queue) == cap(b.queue):
		b.mu.Unlock()
		b.dropped[dropQueueFull].Add(1)
		return
	}
	b.queue = append(b.queue, s)
	full := len(b.queue) == b.cfg.BatchSize
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// loop exports until Shutdown, then exports what is left.
func (b *batcher) loop() {
	defer close(b.done)
	spare := make([]sdktrace.ReadOnlySpan, 0, b.cfg.QueueSize)
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
// it in batches.
func (b *batcher) drain(spare *[]sdktrace.ReadOnlySpan) {
	b.mu.Lock()
	spans := b.queue
	b.queue = (*spare)[:0]
	b.mu.Unlock()
	for start := 0; start < len(spans); start += b.cfg.BatchSize {
		batch := spans[start:min(start+b.cfg.BatchSize, len(spans))]
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ExportTimeout)
		err := b.exp.ExportSpans(ctx, batch)
		cancel()
		if err != nil {
			b.dropped[dropExportFailed].Add(uint64(len(batch)))
			otel.Handle(err)
		} else {
			b.exported.Add(uint64(len(batch)))
		}
	}
	clear(spans) // let the spans go
	*spare = spans[:0]
}

// ForceFlush exports the spans queued now and waits for it, or for ctx.
func (b *batcher) ForceFlush(ctx context.Context) error {
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

// Shutdown exports what is queued, then shuts the exporter down. Spans
// ended afterwards are dropped (reason shutdown).
func (b *batcher) Shutdown(ctx context.Context) error {
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
		return errors.Join(ctx.Err(), b.exp.Shutdown(ctx))
	}
	return b.exp.Shutdown(ctx)
}

// counts is a snapshot of the counters.
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
