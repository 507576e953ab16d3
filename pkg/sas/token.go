package sas

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prefix starts every SAS token.
const Prefix = "SharedAccessSignature "

// Token is a parsed SAS token. Resource and Expiry keep the exact text of the
// token, because the signature covers those bytes as sent.
type Token struct {
	RawResource string // sr exactly as in the token (maybe URL-encoded)
	Resource    string // sr URL-decoded
	Signature   []byte // sig, URL- and base64-decoded
	RawExpiry   string // se as in the token
	Expiry      time.Time
	KeyName     string // skn URL-decoded; may be empty
}

// ErrExpired is returned by Verify for a token past its expiry.
var ErrExpired = errors.New("SAS token has expired")

// ErrSignature is returned by Verify when the signature does not match.
var ErrSignature = errors.New("SAS token signature does not match")

// MaxClockSkew is how long after se a token is still accepted.
const MaxClockSkew = 5 * time.Minute

// Sign returns base64(HMAC-SHA256(key, sr + "\n" + se)).
func Sign(key []byte, rawResource, rawExpiry string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(rawResource))
	m.Write([]byte{'\n'})
	m.Write([]byte(rawExpiry))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// NewToken builds a token for resource sr (used verbatim), signed with the
// base64 key, valid until expiry. keyName may be empty (it is then omitted).
func NewToken(keyB64, sr, keyName string, expiry time.Time) (string, error) {
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil {
		return "", fmt.Errorf("SAS key is not valid base64: %w", err)
	}
	se := strconv.FormatInt(expiry.Unix(), 10)
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteString("sr=")
	b.WriteString(sr)
	b.WriteString("&sig=")
	b.WriteString(url.QueryEscape(Sign(key, sr, se)))
	b.WriteString("&se=")
	b.WriteString(se)
	if keyName != "" {
		b.WriteString("&skn=")
		b.WriteString(url.QueryEscape(keyName))
	}
	return b.String(), nil
}

// ParseToken parses "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]" with the
// fields in any order.
func ParseToken(s string) (*Token, error) {
	rest, ok := cutPrefixFold(strings.TrimSpace(s), "SharedAccessSignature")
	if !ok {
		return nil, errors.New("SAS token must start with SharedAccessSignature")
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return nil, errors.New("SAS token has no fields")
	}
	t := &Token{}
	var haveSR, haveSig, haveSE bool
	for _, f := range strings.Split(rest, "&") {
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("SAS token field %q has no '='", f)
		}
		switch name {
		case "sr":
			if haveSR {
				return nil, errors.New("SAS token has sr twice")
			}
			haveSR = true
			t.RawResource = value
			dec, err := url.PathUnescape(value)
			if err != nil {
				return nil, fmt.Errorf("SAS token sr is not URL-encoded correctly: %v", err)
			}
			t.Resource = dec
		case "sig":
			if haveSig {
				return nil, errors.New("SAS token has sig twice")
			}
			haveSig = true
			dec, err := url.QueryUnescape(value)
			if err != nil {
				return nil, fmt.Errorf("SAS token sig is not URL-encoded correctly: %v", err)
			}
			sig, err := base64.StdEncoding.DecodeString(dec)
			if err != nil {
				return nil, errors.New("SAS token sig is not base64")
			}
			t.Signature = sig
		case "se":
			if haveSE {
				return nil, errors.New("SAS token has se twice")
			}
			haveSE = true
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("SAS token se %q is not a Unix time in seconds", value)
			}
			t.RawExpiry = value
			t.Expiry = time.Unix(n, 0)
		case "skn":
			dec, err := url.QueryUnescape(value)
			if err != nil {
				return nil, fmt.Errorf("SAS token skn is not URL-encoded correctly: %v", err)
			}
			t.KeyName = dec
		default:
			// Unknown fields are ignored, as the service does.
		}
	}
	switch {
	case !haveSR:
		return nil, errors.New("SAS token has no sr")
	case !haveSig:
		return nil, errors.New("SAS token has no sig")
	case !haveSE:
		return nil, errors.New("SAS token has no se")
	}
	return t, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// Verify checks the signature with the base64 key over the raw sr and se, and
// the expiry (allowing MaxClockSkew) against now.
func (t *Token) Verify(keyB64 string, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil {
		return fmt.Errorf("verification key is not valid base64: %w", err)
	}
	want, _ := base64.StdEncoding.DecodeString(Sign(key, t.RawResource, t.RawExpiry))
	if !hmac.Equal(want, t.Signature) {
		return ErrSignature
	}
	if now.After(t.Expiry.Add(MaxClockSkew)) {
		return ErrExpired
	}
	return nil
}

// DeriveDeviceKey computes a group device's key:
// base64(HMAC-SHA256(base64decode(groupKey), registrationID)).
func DeriveDeviceKey(groupKeyB64, registrationID string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(groupKeyB64)
	if err != nil {
		return "", fmt.Errorf("group key is not valid base64: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(registrationID))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
