package factory

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(url, ca string) error {
		cfg, err := clientTLSConfig(ca)
		if err != nil {
			return err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		res, err := (&http.Client{Transport: tr}).Get(url)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	if err := get(srv.URL, caFile); err != nil {
		t.Fatalf("server signed by --ca-file rejected: %v", err)
	}
	// The test server's certificate is also valid for example.com, but not
	// for other names: the host name is still checked.
	badHost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if err := get(badHost, caFile); err == nil {
		t.Fatal("certificate accepted for a name it does not carry")
	}
	if err := get(srv.URL, ""); err == nil {
		t.Fatal("private CA trusted without --ca-file")
	}
	if _, err := clientTLSConfig(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Fatalf("missing CA file: %v", err)
	}
}
