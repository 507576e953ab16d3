package armca

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	dps "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	"github.com/dpsctl/dpsctl/pkg/azure/armtest"
	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
)

const lookAlikeSubscription = "00000000-0000-0000-0000-0000000000c1"

// onLookAlike returns the CA certificates of "lab" in "rg" of the ARM
// look-alike (pkg/azure/armtest), over HTTPS on 127.0.0.1, and the server.
func onLookAlike(t *testing.T) (*Service, *armtest.Server) {
	t.Helper()
	srv, err := armtest.Start(t.TempDir(), lookAlikeSubscription)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddDPS(armtest.DPS{Name: "lab", ResourceGroup: "rg", Location: "westeurope", HostName: srv.Host, IDScope: "0ne000000C1"})
	pemCA, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(httpClient.CloseIdleConnections)
	client, err := dps.NewDpsCertificateClient(lookAlikeSubscription, &azfake.TokenCredential{}, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: "https://127.0.0.1:1/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: srv.URL, Audience: "https://management.core.windows.net/"}}},
		Transport: httpClient,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return New(client, "rg", "lab"), srv
}

// The whole lifecycle of a CA certificate through the look-alike: what
// armca sends is what ARM's certificates API takes, and the proof of
// possession is checked for real (subject CN, signer, etag).
func TestLifecycleOnTheLookAlike(t *testing.T) {
	s, srv := onLookAlike(t)
	ctx := context.Background()
	ca := certstest.New(t)
	rootPEM := []byte(certs.EncodePEM(ca.Root.Cert))

	added, err := s.Add(ctx, "Lab-Root", rootPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	if added.Name != "Lab-Root" || added.ETag == "" || added.Properties.IsVerified || added.Properties.Subject != ca.Root.Cert.Subject.String() ||
		added.Properties.Thumbprint != certs.Thumbprint(ca.Root.Cert, crypto.SHA1) || !strings.HasSuffix(added.Properties.Expiry, " GMT") ||
		added.Properties.Created == "" || added.Properties.Certificate == "" || added.Type != "Microsoft.Devices/provisioningServices/Certificates" {
		t.Fatalf("added %+v", added)
	}
	if _, err := s.Add(ctx, "lab-root", rootPEM, ""); !errors.Is(err, cacert.ErrExists) {
		t.Fatalf("added twice: %v", err)
	}

	code, err := s.VerificationCode(ctx, "Lab-Root", added.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if len(code.Properties.VerificationCode) < 32 || code.ETag == added.ETag || code.Properties.IsVerified || code.Properties.Subject != added.Properties.Subject {
		t.Fatalf("code %+v", code)
	}
	if _, err := s.VerificationCode(ctx, "Lab-Root", added.ETag); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("a code at the etag before the code: %v", err)
	}
	// Refused proofs, each for its own reason; the certificate stays unverified.
	other := certstest.New(t)
	otherSigned, _ := certs.NewVerificationCertificate(other.Root.Cert, other.Root.Key, code.Properties.VerificationCode)
	wrongCode, _ := certs.NewVerificationCertificate(ca.Root.Cert, ca.Root.Key, "NOT-THE-CODE")
	right, _ := certs.NewVerificationCertificate(ca.Root.Cert, ca.Root.Key, code.Properties.VerificationCode)
	for _, tc := range []struct {
		name, etag string
		proof      []byte
		is         error
		says       string
	}{
		{"another CA's key", code.ETag, []byte(certs.EncodePEM(otherSigned.Cert)), cacert.ErrProof, "not signed by the key of"},
		{"wrong CN", code.ETag, []byte(certs.EncodePEM(wrongCode.Cert)), cacert.ErrProof, `subject CN "NOT-THE-CODE" is not the verification code`},
		{"no certificate", code.ETag, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), cacert.ErrProof, "CertificateVerificationFailed"},
		{"stale etag", added.ETag, []byte(certs.EncodePEM(right.Cert)), cacert.ErrETagMismatch, "PreconditionFailed"},
	} {
		if _, err := s.Verify(ctx, "Lab-Root", tc.etag, tc.proof); !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if got, _ := s.Get(ctx, "lab-root"); got == nil || got.Properties.IsVerified || got.ETag != code.ETag {
		t.Fatalf("after refused proofs: %+v", got)
	}

	verified, err := s.Verify(ctx, "Lab-Root", code.ETag, right.Cert.Raw) // DER goes as base64
	if err != nil || !verified.Properties.IsVerified || verified.ETag == code.ETag {
		t.Fatalf("verified %+v, %v", verified, err)
	}
	// the code was used up
	if _, err := s.Verify(ctx, "Lab-Root", "*", []byte(certs.EncodePEM(right.Cert))); !errors.Is(err, cacert.ErrProof) || !strings.Contains(err.Error(), "no verification code") {
		t.Fatalf("the code used twice: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "Lab-Root" || !list[0].Properties.IsVerified {
		t.Fatalf("list %+v, %v", list, err)
	}

	// replaced: unverified again, under the etag read
	replaced, err := s.Add(ctx, "Lab-Root", []byte(certs.EncodePEM(ca.Intermediate.Cert)), "*")
	if err != nil || replaced.Properties.IsVerified || replaced.Properties.Subject != ca.Intermediate.Cert.Subject.String() || replaced.Properties.Created != added.Properties.Created {
		t.Fatalf("replaced %+v, %v", replaced, err)
	}
	if _, err := s.Add(ctx, "Lab-Root", rootPEM, verified.ETag); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("replaced at a stale etag: %v", err)
	}

	if err := s.Delete(ctx, "Lab-Root", verified.ETag); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("delete at a stale etag: %v", err)
	}
	if err := s.Delete(ctx, "Lab-Root", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "Lab-Root"); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, "Lab-Root", "*"); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list after delete %+v, %v", list, err)
	}
	if d, _ := srv.DPS("lab"); len(d.Certificates) != 0 {
		t.Fatalf("the server kept %+v", d.Certificates)
	}
}

// What ARM refuses on upload comes back in ARM's words.
func TestUploadRefusedOnTheLookAlike(t *testing.T) {
	s, _ := onLookAlike(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
		says string
	}{
		{"garbage", []byte("not a certificate"), "InvalidCertificate"},
		{"key", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), `PEM block \"PRIVATE KEY\" is no certificate`},
	} {
		_, err := s.Add(ctx, tc.name, tc.data, "")
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	s.name = "elsewhere"
	if _, err := s.List(ctx); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("another service: %v", err)
	}
}
