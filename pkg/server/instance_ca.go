package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// The CA certificates of the instance as a cacert.Service: upload,
// proof of possession (a verification code, then a certificate whose CN
// is that code signed by the CA's key), deletion. Device chains are
// anchored only at verified certificates (loadGroupIndex), and every
// change here invalidates this process's credential cache; another process
// sees it within credentialTTL.

// VerificationCodeTTL is how long a verification code stays valid.
const VerificationCodeTTL = time.Hour

// CACertificates returns the instance's CA certificates as a
// cacert.Service.
func (i *Instance) CACertificates() cacert.Service { return caService{i} }

type caService struct{ i *Instance }

func (s caService) List(ctx context.Context) ([]cacert.Certificate, error) {
	cs, err := s.i.st.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cacert.Certificate, 0, len(cs))
	for _, c := range cs {
		out = append(out, caResource(c))
	}
	return out, nil
}

func (s caService) Get(ctx context.Context, name string) (*cacert.Certificate, error) {
	c, err := s.i.st.Certificate(ctx, name)
	if err != nil {
		return nil, caError(name, err)
	}
	r := caResource(c)
	return &r, nil
}

func (s caService) Add(ctx context.Context, name string, data []byte, ifMatch string) (*cacert.Certificate, error) {
	if err := cacert.ValidateName(name); err != nil {
		return nil, err
	}
	parsed, err := certs.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %q: %w", name, err)
	}
	if len(parsed) != 1 {
		return nil, fmt.Errorf("CA certificate %q: want one certificate, got %d", name, len(parsed))
	}
	if ps := certs.CheckSigningCertificate(parsed[0], s.i.now()); len(ps) > 0 {
		return nil, fmt.Errorf("CA certificate %q: %s", name, ps[0].String())
	}
	now := model.FormatTime(s.i.now())
	c := store.Certificate{Name: name, Certificate: certs.EncodePEM(parsed[0]), Created: now, Updated: now, ETag: httpapi.NewETag()}
	if err := s.i.st.AddCertificate(ctx, c, ifMatch); err != nil {
		return nil, caError(name, err)
	}
	s.i.invalidate()
	return s.Get(ctx, name)
}

func (s caService) VerificationCode(ctx context.Context, name, ifMatch string) (*cacert.VerificationCode, error) {
	b := make([]byte, 24)
	rand.Read(b)
	code := strings.ToUpper(hex.EncodeToString(b))
	now := s.i.now()
	c, err := s.i.st.UpdateCertificate(ctx, name, ifMatchOrAny(ifMatch), func(c *store.Certificate) error {
		c.Code, c.Expires = code, now.Add(VerificationCodeTTL).Unix()
		c.ETag, c.Updated = httpapi.NewETag(), model.FormatTime(now)
		return nil
	})
	if err != nil {
		return nil, caError(name, err)
	}
	r := caResource(c)
	return &cacert.VerificationCode{Name: r.Name, Type: r.Type, ETag: r.ETag,
		Properties: cacert.VerificationCodeProperties{VerificationCode: code, Properties: r.Properties}}, nil
}

func (s caService) Verify(ctx context.Context, name, ifMatch string, data []byte) (*cacert.Certificate, error) {
	parsed, err := certs.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("verification certificate: %w", err)
	}
	proof := parsed[0]
	now := s.i.now()
	c, err := s.i.st.UpdateCertificate(ctx, name, ifMatchOrAny(ifMatch), func(c *store.Certificate) error {
		if err := checkProof(c, proof, now); err != nil {
			return err
		}
		c.Verified, c.Code, c.Expires = true, "", 0
		c.ETag, c.Updated = httpapi.NewETag(), model.FormatTime(now)
		return nil
	})
	if err != nil {
		return nil, caError(name, err)
	}
	s.i.invalidate()
	r := caResource(c)
	return &r, nil
}

// checkProof checks that proof, a verification certificate, proves
// possession of the key of CA certificate c: its subject CN is the code
// issued last, still valid at now, and the CA's key signed it.
func checkProof(c *store.Certificate, proof *x509.Certificate, now time.Time) error {
	switch {
	case c.Code == "":
		return fmt.Errorf("%w: no verification code was issued for CA certificate %q (or it was used); ask for one first", cacert.ErrProof, c.Name)
	case now.Unix() > c.Expires:
		return fmt.Errorf("%w: the verification code of CA certificate %q expired at %s; ask for a new one", cacert.ErrProof, c.Name, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	case proof.Subject.CommonName != c.Code:
		return fmt.Errorf("%w: the verification certificate's CN is %q, not the verification code %q", cacert.ErrProof, proof.Subject.CommonName, c.Code)
	}
	ca, err := certs.Parse([]byte(c.Certificate))
	if err != nil {
		return fmt.Errorf("stored CA certificate %q: %w", c.Name, err)
	}
	if err := proof.CheckSignatureFrom(ca[0]); err != nil {
		return fmt.Errorf("%w: the verification certificate is not signed by the key of CA certificate %q: %v", cacert.ErrProof, c.Name, err)
	}
	return nil
}

func (s caService) Delete(ctx context.Context, name, ifMatch string) error {
	if err := s.i.st.DeleteCertificateIf(ctx, name, ifMatchOrAny(ifMatch)); err != nil {
		return caError(name, err)
	}
	s.i.invalidate()
	return nil
}

func ifMatchOrAny(ifMatch string) string {
	if ifMatch == "" {
		return store.MatchAny
	}
	return ifMatch
}

// caError gives the store's errors the cacert meaning.
func caError(name string, err error) error {
	for _, m := range []struct{ from, to error }{
		{store.ErrNotFound, cacert.ErrNotFound},
		{store.ErrExists, cacert.ErrExists},
		{store.ErrETagMismatch, cacert.ErrETagMismatch},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("CA certificate %q: %w", name, m.to)
		}
	}
	return err
}

// caResource is a stored certificate as ARM shows it.
func caResource(c store.Certificate) cacert.Certificate {
	r := cacert.Certificate{Name: c.Name, Type: cacert.ResourceType, ETag: c.ETag,
		Properties: cacert.Properties{IsVerified: c.Verified, Created: armTime(c.Created), Updated: armTime(c.Updated),
			Certificate: base64.StdEncoding.EncodeToString([]byte(c.Certificate))}}
	if parsed, err := certs.Parse([]byte(c.Certificate)); err == nil {
		r.Properties.Subject = certs.Info(parsed[0]).SubjectName
		r.Properties.Thumbprint = certs.Thumbprint(parsed[0], crypto.SHA1)
		r.Properties.Expiry = parsed[0].NotAfter.UTC().Format(http.TimeFormat)
	}
	return r
}

// armTime rewrites a stored time in RFC 1123 form, as ARM writes times.
func armTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(http.TimeFormat)
}
