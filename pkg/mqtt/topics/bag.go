package topics

import (
	"fmt"
	"net/url"
	"strings"
)

// System properties of a message, the keys of a property bag that start
// with "$.". The other keys are application properties.
const (
	PropMessageID       = "$.mid"
	PropCorrelationID   = "$.cid"
	PropUserID          = "$.uid"
	PropContentType     = "$.ct"
	PropContentEncoding = "$.ce"
	PropTo              = "$.to"
	PropExpiry          = "$.exp"
	PropCreationTime    = "$.ctime"
	PropOutputName      = "$.on"
)

// Property is one key=value pair of a property bag or a query.
type Property struct {
	Key, Value string
}

// Bag is a URL-encoded property bag, "k1=v1&k2=v2", in its order.
type Bag []Property

// IsSystem reports whether key names a system property ("$.…").
func IsSystem(key string) bool { return strings.HasPrefix(key, "$.") }

// Get returns the value of the first pair with key.
func (b Bag) Get(key string) (string, bool) {
	for _, p := range b {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// System returns the system properties ("$.…") of the bag.
func (b Bag) System() Bag {
	var out Bag
	for _, p := range b {
		if IsSystem(p.Key) {
			out = append(out, p)
		}
	}
	return out
}

// Application returns the application properties (the keys not "$.…").
func (b Bag) Application() Bag {
	var out Bag
	for _, p := range b {
		if !IsSystem(p.Key) {
			out = append(out, p)
		}
	}
	return out
}

// Map returns the bag as a map; of repeated keys the first wins.
func (b Bag) Map() map[string]string {
	if len(b) == 0 {
		return nil
	}
	m := make(map[string]string, len(b))
	for _, p := range b {
		if _, ok := m[p.Key]; !ok {
			m[p.Key] = p.Value
		}
	}
	return m
}

// ParseBag parses "k1=v1&k2=v2" with percent-encoded keys and values ("+"
// is kept as a plus, as IoT Hub does). Empty pairs ("a=1&&b=2") are
// skipped; a key without "=" has an empty value. The bag is bounded by
// MaxTopicLength and MaxProperties; keys must not be empty.
func ParseBag(s string) (Bag, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxTopicLength {
		return nil, &Error{What: "property bag", Input: s, Msg: fmt.Sprintf("longer than %d bytes", MaxTopicLength)}
	}
	var bag Bag
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		if len(bag) == MaxProperties {
			return nil, &Error{What: "property bag", Input: s, Msg: fmt.Sprintf("more than %d properties", MaxProperties)}
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.PathUnescape(k)
		if err != nil {
			return nil, &Error{What: "property bag", Input: s, Msg: fmt.Sprintf("key %q: bad percent-encoding", k)}
		}
		if key == "" {
			return nil, &Error{What: "property bag", Input: s, Msg: fmt.Sprintf("pair %q has no key", pair)}
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, &Error{What: "property bag", Input: s, Msg: fmt.Sprintf("value of %q: bad percent-encoding", key)}
		}
		bag = append(bag, Property{Key: key, Value: val})
	}
	return bag, nil
}

// String formats the bag, percent-encoding keys and values.
func (b Bag) String() string {
	var sb strings.Builder
	for i, p := range b {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(escape(p.Key))
		sb.WriteByte('=')
		sb.WriteString(escape(p.Value))
	}
	return sb.String()
}

// escape percent-encodes everything but the unreserved characters of RFC
// 3986 and "$" (so that system property keys read as "$.mid").
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

func keep(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '$'
}
