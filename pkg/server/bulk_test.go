package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func x509Enrollment(id string, cert map[string]any) map[string]any {
	return map[string]any{
		"registrationId": id,
		"attestation": map[string]any{"type": "x509",
			"x509": map[string]any{"clientCertificates": map[string]any{"primary": cert}}},
	}
}

// bulkErrors posts a bulk call and returns its per-item error codes by id.
func bulkErrors(t *testing.T, e *testEnv, path string, body any) map[string]int {
	t.Helper()
	r := e.call(http.MethodPost, path, body)
	mustStatus(t, r, http.StatusOK)
	var res struct {
		IsSuccessful bool `json:"isSuccessful"`
		Errors       []struct {
			RegistrationID    string `json:"registrationId"`
			EnrollmentGroupID string `json:"enrollmentGroupId"`
			ErrorCode         int    `json:"errorCode"`
			ErrorStatus       string `json:"errorStatus"`
		} `json:"errors"`
	}
	r.json(t, &res)
	got := map[string]int{}
	for _, x := range res.Errors {
		if x.ErrorStatus == "" {
			t.Errorf("error of %s%s has no status", x.RegistrationID, x.EnrollmentGroupID)
		}
		got[x.RegistrationID+x.EnrollmentGroupID] = x.ErrorCode
	}
	if res.IsSuccessful != (len(got) == 0) {
		t.Errorf("isSuccessful %v with %d errors", res.IsSuccessful, len(got))
	}
	return got
}

// TestBulkCreateAnswersAsPut checks the batch path of bulk creates against
// the answers a PUT without If-Match gives: new ids are created with keys,
// etag and timestamps; taken ids (in the store, or earlier in the call)
// answer 409; a certificate sent with its info only is taken from the
// stored enrollment, so a create of an exported X.509 row answers 409 when
// the enrollment exists and 400 when it does not.
func TestBulkCreateAnswersAsPut(t *testing.T) {
	e := newEnv(t)
	dev := newTestCert(t, subject("x509-1", "Contoso", "US"), nil, false)
	b64 := base64.StdEncoding.EncodeToString(dev.cert.Raw)
	mustStatus(t, e.call(http.MethodPut, "/enrollments/x509-1", x509Enrollment("x509-1", map[string]any{"certificate": b64})), 200)
	var stored model.IndividualEnrollment
	e.call(http.MethodGet, "/enrollments/x509-1", nil).json(t, &stored)
	info := stored.Attestation.X509.ClientCertificates.Primary.Info
	infoOnly := map[string]any{"info": map[string]any{"sha256Thumbprint": info.SHA256Thumbprint}}
	mustStatus(t, e.call(http.MethodPut, "/enrollments/sym-1", symEnrollment("sym-1")), 200)

	got := bulkErrors(t, e, "/enrollments", map[string]any{"mode": "create", "enrollments": []any{
		symEnrollment("new-1"),
		x509Enrollment("x509-1", infoOnly), // exists: 409, as for a PUT
		x509Enrollment("x509-2", infoOnly), // missing: the info alone cannot create it
		symEnrollment("SYM-1"),             // taken, other case
		x509Enrollment("new-2", map[string]any{"certificate": b64}),
		symEnrollment("new-1"),            // earlier in this call
		x509Enrollment("New-2", infoOnly), // created earlier in this call, same certificate
		symEnrollment("new-3"),
	}})
	want := map[string]int{
		"x509-1": model.ErrConflict, "x509-2": model.ErrBadRequest, "SYM-1": model.ErrConflict,
		"new-1": model.ErrConflict, "New-2": model.ErrConflict,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	for _, id := range []string{"new-1", "new-2", "new-3"} {
		r := e.call(http.MethodPost, "/enrollments/"+id+"/attestationmechanism", nil)
		mustStatus(t, r, 200)
		var a model.AttestationMechanism
		r.json(t, &a)
		var one model.IndividualEnrollment
		e.call(http.MethodGet, "/enrollments/"+id, nil).json(t, &one)
		if one.ETag == "" || one.CreatedDateTimeUTC == "" || one.CreatedDateTimeUTC != one.LastUpdatedDateTimeUTC ||
			one.ProvisioningStatus != model.StatusEnabled || one.ReprovisionPolicy == nil || one.Capabilities == nil {
			t.Errorf("%s is not completed: %+v", id, one)
		}
		switch a.Type {
		case model.AttestationSymmetricKey:
			if a.SymmetricKey == nil || a.SymmetricKey.PrimaryKey == "" || a.SymmetricKey.SecondaryKey == "" || a.SymmetricKey.PrimaryKey == a.SymmetricKey.SecondaryKey {
				t.Errorf("%s keys: %+v", id, a.SymmetricKey)
			}
		case model.AttestationX509:
			p := one.Attestation.X509.ClientCertificates.Primary
			if p.Info == nil || p.Info.SHA256Thumbprint == "" || p.Info.SubjectName != `CN=x509-1, O=Contoso, C=US` {
				t.Errorf("%s certificate info: %+v", id, p.Info)
			}
		}
	}
	// The stored certificate is PEM, as a PUT stores it.
	doc, err := e.inst.st.Enrollment(context.Background(), "new-2")
	if err != nil {
		t.Fatal(err)
	}
	if c := doc.Attestation.X509.ClientCertificates.Primary.Certificate; !strings.HasPrefix(c, "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("stored certificate %q", c)
	}
	if n, _ := e.inst.st.CountEnrollments(context.Background()); n != 5 {
		t.Errorf("%d enrollments, want 5", n)
	}
}

// TestConcurrentBulkCreates sends overlapping bulk creates at once, so that
// the group commit puts several in one transaction: every id is created
// once, and every other create of it answers 409.
func TestConcurrentBulkCreates(t *testing.T) {
	e := newEnv(t)
	const (
		callers = 8
		calls   = 6
		ids     = 40
	)
	var (
		mu        sync.Mutex
		conflicts = map[string]int{}
		wg        sync.WaitGroup
		errs      = make(chan error, callers)
	)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range calls {
				var items []any
				for i := range MaxBulkItems {
					items = append(items, symEnrollment(fmt.Sprintf("dev-%02d", (c*7+n*MaxBulkItems+i)%ids)))
				}
				r, err := e.try(http.MethodPost, "/enrollments", map[string]any{"mode": "create", "enrollments": items})
				if err == nil && r.status != 200 {
					err = fmt.Errorf("status %d: %s", r.status, r.body)
				}
				var res model.BulkEnrollmentOperationResult
				if err == nil {
					err = json.Unmarshal(r.body, &res)
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, x := range res.Errors {
					if x.ErrorCode != model.ErrConflict {
						errs <- fmt.Errorf("%s: %d %s", x.RegistrationID, x.ErrorCode, x.ErrorStatus)
					}
					conflicts[x.RegistrationID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for c := range callers {
		for n := range calls {
			for i := range MaxBulkItems {
				sent[fmt.Sprintf("dev-%02d", (c*7+n*MaxBulkItems+i)%ids)]++
			}
		}
	}
	count, err := e.inst.st.CountEnrollments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if count != len(sent) {
		t.Fatalf("%d enrollments, want %d", count, len(sent))
	}
	var wrong []string
	for id, n := range sent {
		if conflicts[id] != n-1 {
			wrong = append(wrong, fmt.Sprintf("%s sent %d times, %d conflicts", id, n, conflicts[id]))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		t.Fatal(strings.Join(wrong, "\n"))
	}
	if p, a := e.inst.h.service.BulkCallsInFlight(); p != 0 || a != 0 {
		t.Errorf("%d calls still announced, %d active", p, a)
	}
}

// TestBulkCallsThatFailEarlyWithdrawTheirAnnouncement: a bulk call that
// fails before its write must not leave the writer waiting for it.
func TestBulkCallsThatFailEarlyWithdrawTheirAnnouncement(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{`, `{"mode":"bogus","enrollments":[{}]}`, `{"mode":"create","enrollments":[]}`} {
		r := e.call(http.MethodPost, "/enrollments", body)
		mustStatus(t, r, 400)
	}
	if p, a := e.inst.h.service.BulkCallsInFlight(); p != 0 || a != 0 {
		t.Fatalf("%d calls still announced, %d active", p, a)
	}
}

// BenchmarkBulkCreateMixed creates enrollments in bulk calls of ten, a third
// each TPM, X.509 (inline base64 DER) and symmetric key, from eight callers
// at once, as an import with several calls in flight does. It measures the
// service alone, through the in-process transport.
func BenchmarkBulkCreateMixed(b *testing.B) {
	e := newEnv(b)
	pool := make([]string, 16)
	for i := range pool {
		c := newTestCert(b, subject(fmt.Sprintf("device-%d", i), "Contoso", "US"), nil, false)
		pool[i] = base64.StdEncoding.EncodeToString(c.cert.Raw)
	}
	ek := base64.StdEncoding.EncodeToString(make([]byte, 122))
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		var sb strings.Builder
		for pb.Next() {
			sb.Reset()
			sb.WriteString(`{"mode":"create","enrollments":[`)
			for i := range MaxBulkItems {
				n := next.Add(1)
				if i > 0 {
					sb.WriteByte(',')
				}
				switch n % 3 {
				case 0:
					fmt.Fprintf(&sb, `{"registrationId":"tpm-%08d","attestation":{"type":"tpm","tpm":{"endorsementKey":%q}}}`, n, ek)
				case 1:
					fmt.Fprintf(&sb, `{"registrationId":"x509-%08d","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":%q}}}}}`, n, pool[n%int64(len(pool))])
				default:
					fmt.Fprintf(&sb, `{"registrationId":"sym-%08d","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"site":"lab"}},"iotHubs":["hub1.azure-devices.net"]}`, n)
				}
			}
			sb.WriteString(`]}`)
			r, err := e.try(http.MethodPost, "/enrollments", sb.String())
			if err != nil || r.status != 200 || !strings.Contains(string(r.body), `"isSuccessful":true`) {
				b.Errorf("%v %d %s", err, r.status, r.body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(next.Load()), "ns/enrollment")
}
