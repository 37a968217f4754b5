package schema

import (
	"fmt"
	"strconv"
	"time"
)

// SameDuration compares two Go duration strings by value ("60s" equals "1m0s", "" equals
// "0s"); strings that do not parse compare as text.
func SameDuration(a, b string) bool {
	da, errA := time.ParseDuration(orDefaultText(a, "0s"))
	db, errB := time.ParseDuration(orDefaultText(b, "0s"))
	if errA != nil || errB != nil {
		return a == b
	}
	return da == db
}

// SameNumberText compares two numbers written as text ("0" equals "0.0", "" equals "0");
// text that does not parse compares as text.
func SameNumberText(a, b string) bool {
	fa, errA := strconv.ParseFloat(orDefaultText(a, "0"), 64)
	fb, errB := strconv.ParseFloat(orDefaultText(b, "0"), 64)
	if errA != nil || errB != nil {
		return a == b
	}
	return fa == fb
}

func orDefaultText(s, zero string) string {
	if s == "" {
		return zero
	}
	return s
}

// ParseDuration reads a duration string as Go's time.ParseDuration does (the official
// docker provider's rule); "" is zero. The error names the property prop and quotes s.
func ParseDuration(prop, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like \"30s\" or \"1m30s\": %w", prop, s, err)
	}
	return d, nil
}
