package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkBulkCreate creates enrollments through the handler in bulk calls
// of ten, as an import does.
func BenchmarkBulkCreate(b *testing.B) {
	e := newEnv(b)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		var sb strings.Builder
		sb.WriteString(`{"mode":"create","enrollments":[`)
		for i := range MaxBulkItems {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"registrationId":"bench-%08d","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"site":"lab"}}}`, n)
			n++
		}
		sb.WriteString(`]}`)
		r := e.call(http.MethodPost, "/enrollments", sb.String())
		if r.status != 200 || !strings.Contains(string(r.body), `"isSuccessful":true`) {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/enrollment")
}

// BenchmarkQuery10k lists 10,000 enrollments in pages of 100.
func BenchmarkQuery10k(b *testing.B) {
	e := newEnv(b)
	for c := range 1000 {
		var sb strings.Builder
		sb.WriteString(`{"mode":"create","enrollments":[`)
		for i := range 10 {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"registrationId":"q-%06d","attestation":{"type":"symmetricKey"}}`, c*10+i)
		}
		sb.WriteString(`]}`)
		if r := e.call(http.MethodPost, "/enrollments", sb.String()); r.status != 200 {
			b.Fatal(r.status)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		token, total := "", 0
		for pages := 0; pages < 200; pages++ {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/enrollments/query?api-version=2021-10-01", strings.NewReader(`{"query":"*"}`))
			req.Header.Set("Authorization", e.token())
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("x-ms-continuation", token)
			}
			res, err := e.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			total += strings.Count(string(body), `"registrationId"`)
			if token = res.Header.Get("x-ms-continuation"); token == "" {
				break
			}
		}
		if total != 10000 {
			b.Fatalf("listed %d", total)
		}
	}
}
