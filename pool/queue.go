package pool

// grant is what a waiter is handed: an instance, the right to create one
// (a reserved capacity slot), or an error (the pool closed).
type grant[I Instance] struct {
	e      *entry[I]
	create bool
	err    error
}

// waiter is one caller queued in Acquire. Its channel has room for exactly
// one grant, sent under the pool lock at the moment the waiter leaves the
// queue, so a sender never blocks and a waiter that gives up can always tell,
// under the lock, whether a grant is on its way (queued == false).
type waiter[I Instance] struct {
	ch         chan grant[I]
	prev, next *waiter[I]
	queued     bool
}

// waitQueue is an intrusive FIFO of waiters; removal from the middle (a
// waiter that timed out) is O(1). Not safe for concurrent use: the pool lock
// guards it.
type waitQueue[I Instance] struct {
	head, tail *waiter[I]
	n          int
}

func (q *waitQueue[I]) push(w *waiter[I]) {
	w.queued = true
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

// pop removes and returns the oldest waiter, or nil.
func (q *waitQueue[I]) pop() *waiter[I] {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// remove unlinks w, which must be queued.
func (q *waitQueue[I]) remove(w *waiter[I]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}
