package health

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Usage is the synopsis printed with a usage error.
const Usage = "usage: galera-health [--check [--donor-ok [--transfer-ok-after SECONDS]] | --http]"

var wholeSeconds = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// ParseArgs reads the flags of galera-health; availableWhenDonor is AVAILABLE_WHEN_DONOR.
// http is true for --http (answer one request on stdin/stdout). The HTTP answer never counts a
// state transfer as healthy.
func ParseArgs(args []string, availableWhenDonor string) (http bool, o Options, err error) {
	o.DonorOK = availableWhenDonor == "1"
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--http":
			http = true
		case "--check":
			http = false
		case "--donor-ok":
			o.DonorOK, o.TransferOK = true, true
		case "--transfer-ok-after":
			v := ""
			if i+1 < len(args) {
				v = args[i+1]
			}
			if !wholeSeconds.MatchString(v) {
				return false, o, fmt.Errorf("--transfer-ok-after needs a whole number of seconds")
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return false, o, fmt.Errorf("--transfer-ok-after needs a whole number of seconds")
			}
			o.TransferOKAfter = time.Duration(n) * time.Second
			i++
		default:
			return false, o, fmt.Errorf("unknown argument '%s'", a)
		}
	}
	if http {
		o.TransferOK = false
	}
	return http, o, nil
}
