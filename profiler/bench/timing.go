package bench

import (
	"math"
	"strconv"
	"strings"
)

// timing holds the Server-Timing phases of one answer, milliseconds,
// indexed like PhaseNames.
type timing struct {
	ms  [5]float64
	has bool // the answer carried a Server-Timing entry the bench knows
}

// phaseIndex maps a Server-Timing metric name to its index in timing.
func phaseIndex(name string) int {
	switch name {
	case PhaseQueue:
		return 0
	case PhaseCold:
		return 1
	case PhaseExecute:
		return 2
	case PhaseIO:
		return 3
	case PhaseGateway:
		return 4
	}
	return -1
}

// parseServerTiming reads the phases the bench knows out of Server-Timing
// header values (W3C Server Timing: comma-separated metrics, each a name and
// ";"-separated parameters, dur in milliseconds). Unknown metrics, entries
// without a valid dur, and malformed parts are ignored: the header is
// another program's, and a broken one only loses the breakdown.
func parseServerTiming(values []string) timing {
	var t timing
	for _, v := range values {
		for _, entry := range splitOutsideQuotes(v, ',') {
			params := splitOutsideQuotes(entry, ';')
			i := phaseIndex(strings.TrimSpace(params[0]))
			if i < 0 {
				continue
			}
			for _, p := range params[1:] {
				k, val, ok := strings.Cut(p, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "dur") {
					continue
				}
				val = strings.Trim(strings.TrimSpace(val), `"`)
				ms, err := strconv.ParseFloat(val, 64)
				if err != nil || ms < 0 || math.IsInf(ms, 0) || math.IsNaN(ms) {
					continue
				}
				t.ms[i] += ms
				t.has = true
				break
			}
		}
	}
	return t
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted
// string (with backslash escapes). It always returns at least one part.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
