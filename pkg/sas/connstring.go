// Package sas handles DPS shared access signatures: service connection
// strings, SAS tokens (signing and verification) and group-derived device keys.
package sas

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ConnectionString is a parsed DPS service connection string.
type ConnectionString struct {
	HostName string // may carry a port, e.g. localhost:8443
	KeyName  string // SharedAccessKeyName
	Key      string // SharedAccessKey, base64
	// Signature is a pre-built SharedAccessSignature used instead of Key.
	Signature string
}

// ParseError says which part of a connection string is wrong.
type ParseError struct {
	Field  string
	Reason string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return "connection string: " + e.Reason
	}
	return fmt.Sprintf("connection string: %s: %s", e.Field, e.Reason)
}

// ParseConnectionString parses HostName=…;SharedAccessKeyName=…;SharedAccessKey=….
// Pairs are split on the first '='; names compare case-insensitively.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	s = strings.TrimSpace(s)
	if s == "" {
		return cs, &ParseError{Reason: "empty"}
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return cs, &ParseError{Field: part, Reason: "expected name=value"}
		}
		name = strings.TrimSpace(name)
		key := strings.ToLower(name)
		if seen[key] {
			return cs, &ParseError{Field: name, Reason: "given twice"}
		}
		seen[key] = true
		switch key {
		case "hostname":
			cs.HostName = value
		case "sharedaccesskeyname":
			cs.KeyName = value
		case "sharedaccesskey":
			cs.Key = value
		case "sharedaccesssignature":
			cs.Signature = value
		default:
			return cs, &ParseError{Field: name, Reason: "unknown field (want HostName, SharedAccessKeyName, SharedAccessKey)"}
		}
	}
	if cs.HostName == "" {
		return cs, &ParseError{Field: "HostName", Reason: "missing"}
	}
	if err := validateHost(cs.HostName); err != nil {
		return cs, &ParseError{Field: "HostName", Reason: err.Error()}
	}
	if cs.Key == "" && cs.Signature == "" {
		return cs, &ParseError{Field: "SharedAccessKey", Reason: "missing"}
	}
	if cs.Key != "" && cs.Signature != "" {
		return cs, &ParseError{Field: "SharedAccessSignature", Reason: "give either SharedAccessKey or SharedAccessSignature, not both"}
	}
	if cs.Key != "" {
		if cs.KeyName == "" {
			return cs, &ParseError{Field: "SharedAccessKeyName", Reason: "missing"}
		}
		if _, err := base64.StdEncoding.DecodeString(cs.Key); err != nil {
			return cs, &ParseError{Field: "SharedAccessKey", Reason: "not valid base64"}
		}
	}
	if cs.KeyName != "" {
		for _, c := range cs.KeyName {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-@.", c)) {
				return cs, &ParseError{Field: "SharedAccessKeyName", Reason: fmt.Sprintf("character %q not allowed", c)}
			}
		}
	}
	return cs, nil
}

func validateHost(h string) error {
	host, port, hasPort := strings.Cut(h, ":")
	if host == "" {
		return fmt.Errorf("empty host")
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("character %q not allowed in a host name", c)
		}
	}
	if hasPort {
		if port == "" || len(port) > 5 {
			return fmt.Errorf("bad port %q", port)
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return fmt.Errorf("bad port %q", port)
			}
		}
	}
	return nil
}

// Host returns the host name without any port: the SAS audience the SDKs use.
func (c ConnectionString) Host() string {
	h, _, _ := strings.Cut(c.HostName, ":")
	return h
}

// String renders the connection string in canonical field order.
func (c ConnectionString) String() string {
	if c.Signature != "" {
		return "HostName=" + c.HostName + ";SharedAccessSignature=" + c.Signature
	}
	return "HostName=" + c.HostName + ";SharedAccessKeyName=" + c.KeyName + ";SharedAccessKey=" + c.Key
}

// Masked renders the connection string with the secret hidden.
func (c ConnectionString) Masked() string {
	if c.Signature != "" {
		return "HostName=" + c.HostName + ";SharedAccessSignature=***"
	}
	return "HostName=" + c.HostName + ";SharedAccessKeyName=" + c.KeyName + ";SharedAccessKey=***"
}
