package httpapi

import (
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
)

// PeerChain is the TLS client certificate chain of r, leaf first.
func PeerChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

// VerifyKeys tries the token with each non-empty key and returns the one
// that verified. The error is sas.ErrExpired when a key verified but the
// token expired, sas.ErrSignature when none verified.
func VerifyKeys(tok *sas.Token, now time.Time, keys ...string) (string, error) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		switch err := tok.Verify(k, now); {
		case err == nil:
			return k, nil
		case errors.Is(err, sas.ErrExpired):
			return k, err
		}
	}
	return "", sas.ErrSignature
}
