// Package armca implements cacert.Service on the certificates API of Azure
// Resource Manager (Microsoft.Devices/provisioningServices/{name}/
// certificates): the CA certificates of one provisioning service in Azure.
//
// It takes an ARM client the caller built (credential, cloud, transport),
// so it signs in to nothing itself.
package armca

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	"github.com/dpsctl/dpsctl/pkg/cacert"
)

// Service is the CA certificates of one provisioning service in Azure.
type Service struct {
	client        *armdeviceprovisioningservices.DpsCertificateClient
	resourceGroup string
	name          string
}

var _ cacert.Service = (*Service)(nil)

// New returns the CA certificates of provisioning service name in
// resourceGroup, reached through client.
func New(client *armdeviceprovisioningservices.DpsCertificateClient, resourceGroup, name string) *Service {
	return &Service{client: client, resourceGroup: resourceGroup, name: name}
}

// List returns the certificates of the service.
func (s *Service) List(ctx context.Context) ([]cacert.Certificate, error) {
	resp, err := s.client.List(ctx, s.resourceGroup, s.name, nil)
	if err != nil {
		return nil, s.explain(err, "", false)
	}
	out := make([]cacert.Certificate, 0, len(resp.Value))
	for _, c := range resp.Value {
		if c != nil {
			out = append(out, fromARM(c))
		}
	}
	return out, nil
}

// Get returns one certificate.
func (s *Service) Get(ctx context.Context, name string) (*cacert.Certificate, error) {
	resp, err := s.client.Get(ctx, name, s.resourceGroup, s.name, nil)
	if err != nil {
		return nil, s.explain(err, name, false)
	}
	c := fromARM(&resp.CertificateResponse)
	return &c, nil
}

// Add uploads a certificate. ARM needs the etag to replace one: with
// ifMatch "" a certificate of that name is ErrExists, with "*" the current
// etag is read and sent.
func (s *Service) Add(ctx context.Context, name string, certificate []byte, ifMatch string) (*cacert.Certificate, error) {
	if err := cacert.ValidateName(name); err != nil {
		return nil, err
	}
	if ifMatch == "" || ifMatch == "*" {
		cur, err := s.Get(ctx, name)
		switch {
		case errors.Is(err, cacert.ErrNotFound):
			ifMatch = ""
		case err != nil:
			return nil, err
		case ifMatch == "":
			return nil, fmt.Errorf("CA certificate %q: %w", name, cacert.ErrExists)
		default:
			ifMatch = cur.ETag
		}
	}
	var opts *armdeviceprovisioningservices.DpsCertificateClientCreateOrUpdateOptions
	if ifMatch != "" {
		opts = &armdeviceprovisioningservices.DpsCertificateClientCreateOrUpdateOptions{IfMatch: &ifMatch}
	}
	body := armdeviceprovisioningservices.CertificateResponse{Properties: &armdeviceprovisioningservices.CertificateProperties{Certificate: certificate}}
	resp, err := s.client.CreateOrUpdate(ctx, s.resourceGroup, s.name, name, body, opts)
	if err != nil {
		return nil, s.explain(err, name, false)
	}
	c := fromARM(&resp.CertificateResponse)
	return &c, nil
}

// VerificationCode asks ARM for a verification code.
func (s *Service) VerificationCode(ctx context.Context, name, ifMatch string) (*cacert.VerificationCode, error) {
	ifMatch, err := s.etag(ctx, name, ifMatch)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.GenerateVerificationCode(ctx, name, ifMatch, s.resourceGroup, s.name, nil)
	if err != nil {
		return nil, s.explain(err, name, false)
	}
	v := resp.VerificationCodeResponse
	out := &cacert.VerificationCode{ID: str(v.ID), Name: str(v.Name), Type: str(v.Type), ETag: str(v.Etag)}
	if p := v.Properties; p != nil {
		out.Properties = cacert.VerificationCodeProperties{VerificationCode: str(p.VerificationCode), Properties: cacert.Properties{
			Subject: str(p.Subject), Expiry: str(p.Expiry), Thumbprint: str(p.Thumbprint), IsVerified: p.IsVerified != nil && *p.IsVerified,
			Created: str(p.Created), Updated: str(p.Updated), Certificate: b64(p.Certificate)}}
	}
	if out.Name == "" {
		out.Name = name
	}
	return out, nil
}

// Verify sends the verification certificate (PEM or DER; ARM takes the
// PEM text or the base64 of the DER).
func (s *Service) Verify(ctx context.Context, name, ifMatch string, verificationCertificate []byte) (*cacert.Certificate, error) {
	ifMatch, err := s.etag(ctx, name, ifMatch)
	if err != nil {
		return nil, err
	}
	text := string(verificationCertificate)
	if len(verificationCertificate) > 0 && verificationCertificate[0] == 0x30 { // DER
		text = base64.StdEncoding.EncodeToString(verificationCertificate)
	}
	resp, err := s.client.VerifyCertificate(ctx, name, ifMatch, s.resourceGroup, s.name,
		armdeviceprovisioningservices.VerificationCodeRequest{Certificate: &text}, nil)
	if err != nil {
		return nil, s.explain(err, name, true)
	}
	c := fromARM(&resp.CertificateResponse)
	return &c, nil
}

// Delete removes a certificate.
func (s *Service) Delete(ctx context.Context, name, ifMatch string) error {
	ifMatch, err := s.etag(ctx, name, ifMatch)
	if err != nil {
		return err
	}
	if _, err := s.client.Delete(ctx, s.resourceGroup, ifMatch, s.name, name, nil); err != nil {
		return s.explain(err, name, false)
	}
	return nil
}

// etag returns ifMatch, or for "" and "*" the certificate's current etag:
// ARM requires one on every change.
func (s *Service) etag(ctx context.Context, name, ifMatch string) (string, error) {
	if ifMatch != "" && ifMatch != "*" {
		return ifMatch, nil
	}
	cur, err := s.Get(ctx, name)
	if err != nil {
		return "", err
	}
	return cur.ETag, nil
}

// explain maps ARM's answers to cacert's errors; a 400 to a verification
// is a failed proof.
func (s *Service) explain(err error, name string, verifying bool) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	what := fmt.Sprintf("CA certificate %q of %s/%s", name, s.resourceGroup, s.name)
	if name == "" {
		what = fmt.Sprintf("CA certificates of %s/%s", s.resourceGroup, s.name)
	}
	var to error
	switch {
	case re.StatusCode == http.StatusNotFound:
		to = cacert.ErrNotFound
	case re.StatusCode == http.StatusPreconditionFailed:
		to = cacert.ErrETagMismatch
	case re.StatusCode == http.StatusConflict:
		to = cacert.ErrExists
	case verifying && re.StatusCode == http.StatusBadRequest:
		to = cacert.ErrProof
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
	if msg := armMessage(re); msg != "" {
		return fmt.Errorf("%s: %w: %s (%s %d %s)", what, to, msg, re.ErrorCode, re.StatusCode, http.StatusText(re.StatusCode))
	}
	return fmt.Errorf("%s: %w (%s %d %s)", what, to, re.ErrorCode, re.StatusCode, http.StatusText(re.StatusCode))
}

// armMessage is the message of ARM's error body, which says why a proof
// or an upload was refused; "" when there is none.
func armMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return ""
	}
	return errorMessage(body)
}

// errorMessage reads the message of an ARM error body ({"error": {"code",
// "message"}}), on one line and without its final period; "" when body is
// no such thing.
func errorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.Join(strings.Fields(e.Error.Message), " "), "."))
}
func fromARM(c *armdeviceprovisioningservices.CertificateResponse) cacert.Certificate {
	out := cacert.Certificate{ID: str(c.ID), Name: str(c.Name), Type: str(c.Type), ETag: str(c.Etag)}
	if p := c.Properties; p != nil {
		out.Properties = cacert.Properties{Subject: str(p.Subject), Expiry: rfc1123(p.Expiry), Thumbprint: str(p.Thumbprint),
			IsVerified: p.IsVerified != nil && *p.IsVerified, Created: rfc1123(p.Created), Updated: rfc1123(p.Updated), Certificate: b64(p.Certificate)}
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func b64(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func rfc1123(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(http.TimeFormat)
}
