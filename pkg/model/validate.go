package model

import (
	"encoding/base64"
	"fmt"
	"time"
)

// MaxIDLength is the longest registration or enrollment group ID DPS accepts.
const MaxIDLength = 128

// MaxX509IDLength is the longest registration ID usable with X.509 (the CN limit).
const MaxX509IDLength = 64

// ValidateID checks a registration ID or enrollment group ID against the DPS
// rules: 1 to 128 characters, alphanumeric plus '-', '.', '_' and ':', and the
// last character alphanumeric or '-'. Upper case is accepted (IDs compare
// case-insensitively).
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("ID is empty")
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("ID is %d characters long; the limit is %d", len(id), MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isIDChar(c) {
			return fmt.Errorf("ID has the character %q at position %d; allowed are letters, digits, '-', '.', '_' and ':'", rune(c), i+1)
		}
	}
	last := id[len(id)-1]
	if !(isAlnum(last) || last == '-') {
		return fmt.Errorf("ID ends with %q; it must end with a letter, a digit or '-'", rune(last))
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIDChar(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == ':'
}

// ValidateSymmetricKey checks that key is standard base64 decoding to 16..64 bytes.
func ValidateSymmetricKey(key string) error {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("key is not valid base64: %v", err)
	}
	if len(b) < 16 || len(b) > 64 {
		return fmt.Errorf("key decodes to %d bytes; it must be 16 to 64 bytes", len(b))
	}
	return nil
}

// TimeLayout is the timestamp form DPS uses: UTC with seven fractional digits.
const TimeLayout = "2006-01-02T15:04:05.0000000Z"

// FormatTime renders t as DPS does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Reprovision policy names as the CLI and portal spell them.
const (
	ReprovisionAndMigrate = "reprovision-and-migrate"
	ReprovisionAndReset   = "reprovision-and-reset"
	ReprovisionNever      = "never"
)

// ReprovisionPolicyFromName maps a CLI reprovision policy name to the wire policy.
func ReprovisionPolicyFromName(name string) (*ReprovisionPolicy, error) {
	switch name {
	case ReprovisionAndMigrate:
		return &ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}, nil
	case ReprovisionAndReset:
		return &ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: false}, nil
	case ReprovisionNever:
		return &ReprovisionPolicy{UpdateHubAssignment: false, MigrateDeviceData: false}, nil
	}
	return nil, fmt.Errorf("unknown reprovision policy %q (want %s, %s or %s)", name, ReprovisionAndMigrate, ReprovisionAndReset, ReprovisionNever)
}

// Name returns the CLI name of a reprovision policy.
func (p *ReprovisionPolicy) Name() string {
	if p == nil {
		return ""
	}
	switch {
	case p.UpdateHubAssignment && p.MigrateDeviceData:
		return ReprovisionAndMigrate
	case p.UpdateHubAssignment:
		return ReprovisionAndReset
	case !p.MigrateDeviceData:
		return ReprovisionNever
	}
	return "keep-hub-migrate-data"
}

// ValidAllocationPolicy reports whether p is a wire allocation policy.
func ValidAllocationPolicy(p string) bool {
	switch p {
	case AllocationHashed, AllocationGeoLatency, AllocationStatic, AllocationCustom:
		return true
	}
	return false
}
