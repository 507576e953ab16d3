package servertest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

func TestStart(t *testing.T) {
	s := servertest.Start(t, server.Options{})
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") || s.Info.Address != s.Addr {
		t.Fatalf("addr %q, info %+v", s.Addr, s.Info)
	}
	if want := "HostName=" + s.HostPort() + ";"; !strings.HasPrefix(s.Info.ConnectionString, want) {
		t.Errorf("connection string %q does not start with %q", s.Info.ConnectionString, want)
	}
	// An unauthenticated call over TLS that verifies the CA: a DPS 401.
	res, err := s.Client(t, nil).Get("https://" + s.HostPort() + "/enrollments/x?api-version=2021-10-01")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("x-ms-error-code") != "401002" {
		t.Fatalf("status %d %s", res.StatusCode, b)
	}
}
