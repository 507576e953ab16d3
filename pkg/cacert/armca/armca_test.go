package armca

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	dps "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices/fake"
	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
)

// fakeARM is the certificates API of one provisioning service, in memory,
// served by the SDK's fake transport: no network.
type fakeARM struct {
	rg, dps string
	certs   map[string]*fakeCert
	n       int
	calls   []string // "method name if-match"
}

type fakeCert struct {
	pem      []byte
	etag     string
	verified bool
	code     string
}

func (f *fakeARM) nextETag() string { f.n++; return fmt.Sprintf("AAAA%04d", f.n) }

func (f *fakeARM) resource(name string) dps.CertificateResponse {
	c := f.certs[name]
	parsed, _ := certs.Parse(c.pem)
	subject, thumb := "CN="+parsed[0].Subject.CommonName, certs.Thumbprint(parsed[0], crypto.SHA1)
	expiry, created := parsed[0].NotAfter, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := "/subscriptions/sub/resourceGroups/" + f.rg + "/providers/Microsoft.Devices/provisioningServices/" + f.dps + "/certificates/" + name
	typ := "Microsoft.Devices/provisioningServices/Certificates"
	return dps.CertificateResponse{ID: &id, Name: &name, Type: &typ, Etag: &c.etag, Properties: &dps.CertificateProperties{
		Certificate: c.pem, Subject: &subject, Thumbprint: &thumb, Expiry: &expiry, Created: &created, Updated: &created, IsVerified: &c.verified}}
}

func (f *fakeARM) checkScope(rg, name string, e *azfake.ErrorResponder) bool {
	if rg != f.rg || name != f.dps {
		e.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return false
	}
	return true
}

func (f *fakeARM) server() *fake.DpsCertificateServer {
	return &fake.DpsCertificateServer{
		List: func(ctx context.Context, rg, name string, _ *dps.DpsCertificateClientListOptions) (resp azfake.Responder[dps.DpsCertificateClientListResponse], e azfake.ErrorResponder) {
			if !f.checkScope(rg, name, &e) {
				return
			}
			var out dps.DpsCertificateClientListResponse
			for n := range f.certs {
				r := f.resource(n)
				out.Value = append(out.Value, &r)
			}
			resp.SetResponse(http.StatusOK, out, nil)
			return
		},
		Get: func(ctx context.Context, cert, rg, name string, _ *dps.DpsCertificateClientGetOptions) (resp azfake.Responder[dps.DpsCertificateClientGetResponse], e azfake.ErrorResponder) {
			if !f.checkScope(rg, name, &e) {
				return
			}
			if f.certs[cert] == nil {
				e.SetResponseError(http.StatusNotFound, "NotFound")
				return
			}
			resp.SetResponse(http.StatusOK, dps.DpsCertificateClientGetResponse{CertificateResponse: f.resource(cert)}, nil)
			return
		},
		CreateOrUpdate: func(ctx context.Context, rg, name, cert string, body dps.CertificateResponse, o *dps.DpsCertificateClientCreateOrUpdateOptions) (resp azfake.Responder[dps.DpsCertificateClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
			ifMatch := ""
			if o != nil && o.IfMatch != nil {
				ifMatch = *o.IfMatch
			}
			f.calls = append(f.calls, "put "+cert+" "+ifMatch)
			if !f.checkScope(rg, name, &e) {
				return
			}
			if cur := f.certs[cert]; cur != nil && cur.etag != ifMatch {
				e.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
				return
			}
			if _, err := certs.Parse(body.Properties.Certificate); err != nil {
				e.SetResponseError(http.StatusBadRequest, "InvalidCertificate")
				return
			}
			f.certs[cert] = &fakeCert{pem: body.Properties.Certificate, etag: f.nextETag()}
			resp.SetResponse(http.StatusOK, dps.DpsCertificateClientCreateOrUpdateResponse{CertificateResponse: f.resource(cert)}, nil)
			return
		},
		GenerateVerificationCode: func(ctx context.Context, cert, ifMatch, rg, name string, _ *dps.DpsCertificateClientGenerateVerificationCodeOptions) (resp azfake.Responder[dps.DpsCertificateClientGenerateVerificationCodeResponse], e azfake.ErrorResponder) {
			f.calls = append(f.calls, "code "+cert+" "+ifMatch)
			c := f.certs[cert]
			switch {
			case !f.checkScope(rg, name, &e):
				return
			case c == nil:
				e.SetResponseError(http.StatusNotFound, "NotFound")
				return
			case c.etag != ifMatch:
				e.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
				return
			}
			c.code, c.etag = fmt.Sprintf("CODE%04d", f.n), f.nextETag()
			r := f.resource(cert)
			resp.SetResponse(http.StatusOK, dps.DpsCertificateClientGenerateVerificationCodeResponse{VerificationCodeResponse: dps.VerificationCodeResponse{
				Name: r.Name, Etag: r.Etag, ID: r.ID, Type: r.Type,
				Properties: &dps.VerificationCodeResponseProperties{VerificationCode: &c.code, Subject: r.Properties.Subject, Thumbprint: r.Properties.Thumbprint, IsVerified: r.Properties.IsVerified}}}, nil)
			return
		},
		VerifyCertificate: func(ctx context.Context, cert, ifMatch, rg, name string, req dps.VerificationCodeRequest, _ *dps.DpsCertificateClientVerifyCertificateOptions) (resp azfake.Responder[dps.DpsCertificateClientVerifyCertificateResponse], e azfake.ErrorResponder) {
			f.calls = append(f.calls, "verify "+cert+" "+ifMatch)
			c := f.certs[cert]
			switch {
			case !f.checkScope(rg, name, &e):
				return
			case c == nil:
				e.SetResponseError(http.StatusNotFound, "NotFound")
				return
			case c.etag != ifMatch:
				e.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
				return
			}
			proof, err := certs.Parse([]byte(*req.Certificate))
			ca, _ := certs.Parse(c.pem)
			if err != nil || c.code == "" || proof[0].Subject.CommonName != c.code || proof[0].CheckSignatureFrom(ca[0]) != nil {
				e.SetResponseError(http.StatusBadRequest, "CertificateVerificationFailed")
				return
			}
			c.verified, c.code, c.etag = true, "", f.nextETag()
			resp.SetResponse(http.StatusOK, dps.DpsCertificateClientVerifyCertificateResponse{CertificateResponse: f.resource(cert)}, nil)
			return
		},
		Delete: func(ctx context.Context, rg, ifMatch, name, cert string, _ *dps.DpsCertificateClientDeleteOptions) (resp azfake.Responder[dps.DpsCertificateClientDeleteResponse], e azfake.ErrorResponder) {
			f.calls = append(f.calls, "delete "+cert+" "+ifMatch)
			c := f.certs[cert]
			switch {
			case !f.checkScope(rg, name, &e):
				return
			case c == nil:
				e.SetResponseError(http.StatusNotFound, "NotFound")
				return
			case c.etag != ifMatch:
				e.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
				return
			}
			delete(f.certs, cert)
			resp.SetResponse(http.StatusOK, dps.DpsCertificateClientDeleteResponse{}, nil)
			return
		},
	}
}

func newService(t *testing.T, f *fakeARM) *Service {
	t.Helper()
	client, err := dps.NewDpsCertificateClient("sub", &azfake.TokenCredential{}, &arm.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: fake.NewDpsCertificateServerTransport(f.server())},
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(client, f.rg, f.dps)
}

// The proof of possession against ARM: upload, code, verification
// certificate, verify, delete, each under the etag ARM requires.
func TestProofOfPossessionOnARM(t *testing.T) {
	f := &fakeARM{rg: "rg-lab", dps: "dps-lab", certs: map[string]*fakeCert{}}
	s := newService(t, f)
	ctx := context.Background()
	ca := certstest.New(t)
	pem := []byte(certs.EncodePEM(ca.Root.Cert))

	added, err := s.Add(ctx, "lab-root", pem, "")
	if err != nil {
		t.Fatal(err)
	}
	if added.Name != "lab-root" || added.ETag != "AAAA0001" || added.Properties.IsVerified || added.Properties.Thumbprint != certs.Thumbprint(ca.Root.Cert, crypto.SHA1) ||
		!strings.HasSuffix(added.Properties.Expiry, " GMT") || added.Properties.Created != "Fri, 02 Jan 2026 03:04:05 GMT" || added.Properties.Certificate == "" {
		t.Fatalf("added %+v", added)
	}
	if _, err := s.Add(ctx, "lab-root", pem, ""); !errors.Is(err, cacert.ErrExists) {
		t.Fatalf("added twice: %v", err)
	}
	if _, err := s.Add(ctx, "lab-root", pem, "stale"); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("replaced under a stale etag: %v", err)
	}
	replaced, err := s.Add(ctx, "lab-root", pem, "*")
	if err != nil || replaced.ETag != "AAAA0002" {
		t.Fatalf("replaced: %+v, %v", replaced, err)
	}

	code, err := s.VerificationCode(ctx, "lab-root", "")
	if err != nil {
		t.Fatal(err)
	}
	if code.Properties.VerificationCode == "" || code.ETag != "AAAA0003" || code.Name != "lab-root" {
		t.Fatalf("code %+v", code)
	}
	other := certstest.New(t)
	wrong, _ := certs.NewVerificationCertificate(other.Root.Cert, other.Root.Key, code.Properties.VerificationCode)
	if _, err := s.Verify(ctx, "lab-root", code.ETag, []byte(certs.EncodePEM(wrong.Cert))); !errors.Is(err, cacert.ErrProof) || !strings.Contains(err.Error(), "CertificateVerificationFailed") {
		t.Fatalf("wrong signer: %v", err)
	}
	right, _ := certs.NewVerificationCertificate(ca.Root.Cert, ca.Root.Key, code.Properties.VerificationCode)
	if _, err := s.Verify(ctx, "lab-root", "stale", []byte(certs.EncodePEM(right.Cert))); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("stale etag: %v", err)
	}
	verified, err := s.Verify(ctx, "lab-root", code.ETag, right.Cert.Raw) // DER goes as base64
	if err != nil || !verified.Properties.IsVerified {
		t.Fatalf("verified %+v, %v", verified, err)
	}

	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || !list[0].Properties.IsVerified || list[0].Type != "Microsoft.Devices/provisioningServices/Certificates" {
		t.Fatalf("list %+v, %v", list, err)
	}
	if err := s.Delete(ctx, "lab-root", "stale"); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("delete at a stale etag: %v", err)
	}
	if err := s.Delete(ctx, "lab-root", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "lab-root"); !errors.Is(err, cacert.ErrNotFound) || !strings.Contains(err.Error(), `CA certificate "lab-root" of rg-lab/dps-lab`) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, "lab-root", ""); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	// Every change carried the etag read, as ARM requires.
	want := []string{"put lab-root ", "put lab-root stale", "put lab-root AAAA0001", "code lab-root AAAA0002",
		"verify lab-root " + code.ETag, "verify lab-root stale", "verify lab-root " + code.ETag, "delete lab-root stale", "delete lab-root " + verified.ETag}
	if strings.Join(f.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls\n%q\nwant\n%q", f.calls, want)
	}
}

// Another service or resource group is not found, and other answers keep
// ARM's words.
func TestErrorsOnARM(t *testing.T) {
	s := newService(t, &fakeARM{rg: "rg-lab", dps: "dps-lab", certs: map[string]*fakeCert{}})
	s.name = "elsewhere"
	if _, err := s.List(context.Background()); !errors.Is(err, cacert.ErrNotFound) || !strings.Contains(err.Error(), "CA certificates of rg-lab/elsewhere") {
		t.Fatalf("list of another service: %v", err)
	}
	s.name = "dps-lab"
	if _, err := s.Add(context.Background(), "bad name", nil, ""); err == nil {
		t.Fatal("a bad name was sent")
	}
	if _, err := s.Add(context.Background(), "garbage", []byte("not a certificate"), ""); err == nil || !strings.Contains(err.Error(), "InvalidCertificate") {
		t.Fatalf("garbage: %v", err)
	}
}
