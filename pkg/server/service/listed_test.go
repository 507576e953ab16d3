package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// listedDocs are enrollments and groups of every shape a query strips or
// keeps: registration states, symmetric keys, certificate bodies and their
// info, members of newer API versions (with space, HTML and non-ASCII),
// twins, custom allocation.
var listedDocs = []string{
	`{"registrationId":"sym","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"cHJpbWFyeQ==","secondaryKey":"c2Vjb25kYXJ5"}},"provisioningStatus":"enabled"}`,
	`{"registrationId":"tpm","deviceId":"d<1>","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAAA","storageRootKey":"BBBB"}},"registrationState":{"registrationId":"tpm","status":"assigned","assignedHub":"h.azure-devices.net"},"capabilities":{"iotEdge":true}}`,
	`{"registrationId":"x509","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=x509 & <co>","sha1Thumbprint":"AB","sha256Thumbprint":"CD","issuerName":"CN=é","version":3}},"secondary":{"info":{"subjectName":"CN=s"}}}}},"etag":"e1","createdDateTimeUtc":"2026-01-01T00:00:00Z"}`,
	`{"registrationId":"newer","credentialPolicyName" : { "a" : [ 1 , "<&>" ] },"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"cA=="},"future" : "\u2028é"},"initialTwin":{"tags":{"t":"\u00e9"},"properties":{"desired":{"k":[1,2.5,null]}}},"iotHubs":["a.azure-devices.net"],"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"https://x/?a=1&b=2","apiVersion":"2021-10-01"}}`,
}

var listedGroupDocs = []string{
	`{"enrollmentGroupId":"g-sym","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"cA==","secondaryKey":"cw=="}},"reprovisionPolicy":{"updateHubAssignment":true,"migrateDeviceData":false}}`,
	`{"enrollmentGroupId":"g-x509","attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":"PEM","info":{"subjectName":"CN=root"}}},"caReferences":{"primary":"ca-1"}}},"newer":{"x":"<"}}`,
}

// checkListedPages lists every page of size of kind k both ways and
// compares status, headers and body.
func checkListedPages[T any, P model.EnrollablePointer[T]](t *testing.T, k *kind[T, P], size int) {
	t.Helper()
	ctx := context.Background()
	after := int64(0)
	for range 100 {
		r := httptest.NewRequest(http.MethodPost, "/query", nil)
		r.Header.Set("x-ms-max-item-count", fmt.Sprint(size))
		if after != 0 {
			r.Header.Set("x-ms-continuation", encodeToken(k.tokenTag, after))
		}
		fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
		if err := k.runQuery(ctx, fast, &request{r: r, body: []byte(`{"query":"*"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := k.runQuerySlow(ctx, slow, size, after); err != nil {
			t.Fatal(err)
		}
		if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() {
			t.Fatalf("page after %d:\nfrom the documents: %d %s\ndecoded:            %d %s", after, fast.Code, fast.Body, slow.Code, slow.Body)
		}
		for name := range slow.Header() {
			if fast.Header().Get(name) != slow.Header().Get(name) {
				t.Fatalf("header %s: %q, decoded %q", name, fast.Header().Get(name), slow.Header().Get(name))
			}
		}
		cont := slow.Header().Get("x-ms-continuation")
		if cont == "" {
			return
		}
		var err error
		if after, err = decodeToken(k.tokenTag, cont); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("more than 100 pages")
}

func newListedAPI(t testing.TB) (*API, *store.Store) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Config{Store: st}), st
}

func TestListedPageMatchesDecodedPage(t *testing.T) {
	h, st := newListedAPI(t)
	ctx := context.Background()
	for _, d := range listedDocs {
		var e model.IndividualEnrollment
		if err := json.Unmarshal([]byte(d), &e); err != nil {
			t.Fatal(err)
		}
		if err := st.PutEnrollment(ctx, &e, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range listedGroupDocs {
		var g model.EnrollmentGroup
		if err := json.Unmarshal([]byte(d), &g); err != nil {
			t.Fatal(err)
		}
		if err := st.PutEnrollmentGroup(ctx, &g, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{1, 3, 100} {
		checkListedPages(t, h.enrollments, size)
		checkListedPages(t, h.groups, size)
	}
}

func FuzzListedPage(f *testing.F) {
	for _, d := range listedDocs {
		f.Add([]byte(d))
	}
	h, st := newListedAPI(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, doc []byte) {
		var e model.IndividualEnrollment
		if json.Unmarshal(doc, &e) != nil || e.RegistrationID == "" {
			return
		}
		if err := st.PutEnrollment(ctx, &e, ""); err != nil {
			return
		}
		defer st.DeleteEnrollment(ctx, e.RegistrationID, "")
		checkListedPages(t, h.enrollments, 100)
	})
}
