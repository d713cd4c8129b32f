package interrupt

import "errors"

// Subsections of the "name" custom section that hold function indexes.
const (
	nameFunctions = 1 // name map: function index -> name
	nameLocals    = 2 // indirect name map: function index -> (local index -> name)
	nameLabels    = 3 // indirect name map: function index -> (label index -> name)
)

// names renumbers the function indexes of the "name" custom section and
// names the yield import, so that trap messages still show the right names.
func (w *rewriter) names(p []byte) ([]byte, error) {
	r := &reader{b: p}
	var out []byte
	for !r.done() {
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		sub, err := r.bytes(uint64(size))
		if err != nil {
			return nil, err
		}
		switch id {
		case nameFunctions:
			sub, err = w.nameMap(sub)
		case nameLocals, nameLabels:
			sub, err = w.indirectNameMap(sub)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	return out, nil
}

// nameMap renumbers a function name map and inserts the yield import's name
// at its place in index order.
func (w *rewriter) nameMap(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	inserted := false
	insert := func() {
		out = appendU32(out, w.importedFuncs)
		out = appendName(out, ImportModule+"."+ImportName)
		inserted = true
	}
	for i := uint32(0); i < n; i++ {
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if !inserted && idx >= w.importedFuncs {
			insert()
		}
		out = appendU32(out, w.fn(idx))
		out = appendName(out, string(name))
	}
	if !inserted {
		insert()
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in function name map")
	}
	return out, nil
}

// indirectNameMap renumbers the outer function indexes of an indirect name map.
func (w *rewriter) indirectNameMap(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendU32(out, w.fn(idx))
		start := r.off
		m, err := r.u32()
		if err != nil {
			return nil, err
		}
		for j := uint32(0); j < m; j++ {
			if _, err := r.u32(); err != nil {
				return nil, err
			}
			if _, err := r.name(); err != nil {
				return nil, err
			}
		}
		out = append(out, p[start:r.off]...)
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in indirect name map")
	}
	return out, nil
}
