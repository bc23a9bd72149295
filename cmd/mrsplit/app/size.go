package app

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// parseCount parses a positive decimal number as GNU split parses -l and
// -n: no suffixes. what names the option in messages ("lines", ...).
func parseCount(s, what string) (int64, error) {
	return parseNum(s, what, false)
}

// parseSize parses SIZE: an integer and an optional unit, K M G T P E Z Y
// (powers of 1024; KiB too) or KB MB ... (powers of 1000), or b (512).
// Values beyond int64 are clamped: no input is that large.
func parseSize(s, what string) (int64, error) {
	return parseNum(s, what, true)
}

func parseNum(s, what string, units bool) (int64, error) {
	bad := func(cause string) error {
		if cause != "" {
			return fmt.Errorf("invalid number of %s: '%s': %s", what, s, cause)
		}
		return fmt.Errorf("invalid number of %s: '%s'", what, s)
	}
	digits := strings.TrimLeft(s, " \t")
	i := 0
	for i < len(digits) && digits[i] >= '0' && digits[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, bad("")
	}
	n, _ := new(big.Int).SetString(digits[:i], 10)
	unit := digits[i:]
	if unit != "" {
		if !units {
			return 0, bad("")
		}
		m, ok := multiplier(unit)
		if !ok {
			return 0, bad("")
		}
		n.Mul(n, m)
	}
	if n.Sign() == 0 {
		return 0, bad("Numerical result out of range")
	}
	if !n.IsUint64() {
		if !units {
			return 0, bad("Value too large for defined data type")
		}
		return math.MaxInt64, nil
	}
	if !n.IsInt64() {
		return math.MaxInt64, nil
	}
	return n.Int64(), nil
}

func multiplier(u string) (*big.Int, bool) {
	if u == "b" {
		return big.NewInt(512), true
	}
	const letters = "KMGTPEZY"
	i := strings.IndexByte(letters, u[0])
	if u[0] == 'k' {
		i = 0
	}
	if i < 0 {
		return nil, false
	}
	base := int64(1024)
	switch u[1:] {
	case "", "iB":
	case "B":
		base = 1000
	default:
		return nil, false
	}
	return new(big.Int).Exp(big.NewInt(base), big.NewInt(int64(i+1)), nil), true
}
