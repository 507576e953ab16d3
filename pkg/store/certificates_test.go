package store

import (
	"context"
	"errors"
	"testing"
)

// The proof-of-possession state of a CA certificate: etags guard every
// change, and a code is kept until it is used.
func TestCertificateETags(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	c := Certificate{Name: "Root", Certificate: "PEM", Created: "2026-01-01T00:00:00Z"}
	if err := s.AddCertificate(ctx, c, "E"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("add under an etag of nothing: %v", err)
	}
	if err := s.AddCertificate(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	first, err := s.Certificate(ctx, "root")
	if err != nil || first.ETag == "" || first.Updated != c.Created || first.Verified {
		t.Fatalf("added: %+v, %v", first, err)
	}
	if err := s.AddCertificate(ctx, c, ""); !errors.Is(err, ErrExists) {
		t.Fatalf("add again: %v", err)
	}
	if err := s.AddCertificate(ctx, Certificate{Name: "ROOT", Certificate: "PEM2", Created: "2027-01-01T00:00:00Z"}, "other"); !errors.Is(err, ErrETagMismatch) {
		t.Fatalf("replace under another etag: %v", err)
	}
	if _, err := s.UpdateCertificate(ctx, "root", "other", func(*Certificate) error { return nil }); !errors.Is(err, ErrETagMismatch) {
		t.Fatalf("update under another etag: %v", err)
	}
	got, err := s.UpdateCertificate(ctx, "root", first.ETag, func(c *Certificate) error {
		c.Code, c.Expires, c.ETag = "CODE", 42, "E2"
		return nil
	})
	if err != nil || got.Code != "CODE" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if back, _ := s.Certificate(ctx, "root"); back.Code != "CODE" || back.Expires != 42 || back.ETag != "E2" {
		t.Fatalf("read back %+v", back)
	}
	if _, err := s.UpdateCertificate(ctx, "none", MatchAny, func(*Certificate) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of nothing: %v", err)
	}
	if err := s.AddCertificate(ctx, Certificate{Name: "ROOT", Certificate: "PEM2", Created: "2027-01-01T00:00:00Z", ETag: "E3"}, "E2"); err != nil {
		t.Fatal(err)
	}
	if back, _ := s.Certificate(ctx, "root"); back.Name != "Root" || back.Created != c.Created || back.Certificate != "PEM2" || back.Code != "" {
		t.Fatalf("replaced: %+v", back)
	}
	if err := s.DeleteCertificateIf(ctx, "root", "E2"); !errors.Is(err, ErrETagMismatch) {
		t.Fatalf("delete under an old etag: %v", err)
	}
	if err := s.DeleteCertificateIf(ctx, "root", "E3"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCertificateIf(ctx, "root", MatchAny); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
}
