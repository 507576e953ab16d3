package dps_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

// serve runs the local provisioning service over real TLS on 127.0.0.1:0 and
// returns a client built only from its connection string and CA, as a user
// would configure it.
func serve(t *testing.T) (*dps.Client, *server.Instance) {
	t.Helper()
	srv := servertest.Start(t, server.Options{Addr: "127.0.0.1:0"})
	cs := srv.Info.ConnectionString
	// Only the connection string and the CA, as a user configures it: the
	// host name resolves by itself.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.RootCAs}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := dps.New(dps.Options{ConnectionString: cs, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://localhost:" + srv.Port(); c.Endpoint() != want {
		t.Fatalf("connection string %q gives endpoint %s, want %s", cs, c.Endpoint(), want)
	}
	return c, srv.Instance
}

func symmetric(id string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{RegistrationID: id, EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}}}
}

func TestClientAgainstLocalService(t *testing.T) {
	c, _ := serve(t)
	ctx := context.Background()

	created, err := c.PutEnrollment(ctx, symmetric("dev-1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if created.ETag == "" || created.Attestation.SymmetricKey == nil || created.Attestation.SymmetricKey.PrimaryKey == "" {
		t.Fatalf("create response lacks etag or generated keys: %+v", created)
	}
	if _, err := c.PutEnrollment(ctx, symmetric("dev-1"), ""); !dps.IsConflict(err) {
		t.Fatalf("second create: %v, want 409", err)
	}
	got, err := c.GetEnrollment(ctx, "DEV-1") // IDs are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	if got.Attestation.SymmetricKey != nil && got.Attestation.SymmetricKey.PrimaryKey != "" {
		t.Fatal("GET returned keys")
	}
	am, err := c.GetEnrollmentAttestation(ctx, "dev-1")
	if err != nil || am.SymmetricKey.PrimaryKey != created.Attestation.SymmetricKey.PrimaryKey {
		t.Fatalf("attestation mechanism: %+v %v", am, err)
	}

	// Conditional update: the etag read wins once, then is stale.
	got.ProvisioningStatus = model.StatusDisabled
	updated, err := c.PutEnrollment(ctx, got, got.ETag)
	if err != nil || updated.ProvisioningStatus != model.StatusDisabled || updated.ETag == got.ETag {
		t.Fatalf("update: %+v %v", updated, err)
	}
	if _, err := c.PutEnrollment(ctx, got, got.ETag); !dps.IsPreconditionFailed(err) {
		t.Fatalf("stale etag: %v, want 412", err)
	}
	if err := c.DeleteEnrollment(ctx, "dev-1", got.ETag); !dps.IsPreconditionFailed(err) {
		t.Fatalf("stale delete: %v, want 412", err)
	}
	if err := c.DeleteEnrollment(ctx, "dev-1", updated.ETag); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetEnrollment(ctx, "dev-1")
	var e *dps.Error
	if !dps.IsNotFound(err) || !asError(err, &e) || e.ErrorCode != model.ErrEnrollmentNotFound || e.TrackingID == "" {
		t.Fatalf("after delete: %v", err)
	}
}

func asError(err error, target **dps.Error) bool {
	e, ok := err.(*dps.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestClientQueryAndBulkAgainstLocalService(t *testing.T) {
	c, _ := serve(t)
	ctx := context.Background()
	const n = 235
	for start := 0; start < n; start += 10 {
		var batch []model.IndividualEnrollment
		for i := start; i < min(start+10, n); i++ {
			batch = append(batch, *symmetric(fmt.Sprintf("bulk-%03d", i)))
		}
		res, err := c.BulkEnrollments(ctx, model.BulkCreate, batch)
		if err != nil || !res.IsSuccessful {
			t.Fatalf("bulk: %+v %v", res, err)
		}
	}
	res, err := c.BulkEnrollments(ctx, model.BulkCreate, []model.IndividualEnrollment{*symmetric("bulk-000"), *symmetric("bulk-new")})
	if err != nil || res.IsSuccessful || len(res.Errors) != 1 || res.Errors[0].RegistrationID != "bulk-000" {
		t.Fatalf("bulk with a duplicate: %+v %v", res, err)
	}
	seen := map[string]bool{}
	for e, err := range c.Enrollments(ctx, dps.QueryOptions{PageSize: 40}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[e.RegistrationID] {
			t.Fatalf("%s listed twice", e.RegistrationID)
		}
		seen[e.RegistrationID] = true
		if e.RegistrationState != nil {
			t.Fatal("query returned registrationState")
		}
	}
	if len(seen) != n+1 {
		t.Fatalf("listed %d enrollments, want %d", len(seen), n+1)
	}
	p, err := c.QueryEnrollmentsPage(ctx, dps.QueryOptions{PageSize: 1000}, "")
	if err != nil || len(p.Items) != 100 || p.Continuation == "" {
		t.Fatalf("page size is capped at 100: got %d items, continuation %q, %v", len(p.Items), p.Continuation, err)
	}

	g := &model.EnrollmentGroup{EnrollmentGroupID: "grp", EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}}}
	if _, err := c.PutGroup(ctx, g, ""); err != nil {
		t.Fatal(err)
	}
	gam, err := c.GetGroupAttestation(ctx, "grp")
	if err != nil || gam.SymmetricKey == nil || gam.SymmetricKey.PrimaryKey == "" {
		t.Fatalf("group attestation: %+v %v", gam, err)
	}
	groups := 0
	for _, err := range c.Groups(ctx, dps.QueryOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		groups++
	}
	regs := 0
	for _, err := range c.Registrations(ctx, "grp", dps.QueryOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		regs++
	}
	if groups != 1 || regs != 0 {
		t.Fatalf("groups %d registrations %d", groups, regs)
	}
	gres, err := c.BulkGroups(ctx, model.BulkDelete, []model.EnrollmentGroup{*g})
	if err != nil || !gres.IsSuccessful {
		t.Fatalf("bulk group delete: %+v %v", gres, err)
	}
	if _, err := c.GetRegistration(ctx, "nobody"); !dps.IsNotFound(err) {
		t.Fatalf("registration: %v", err)
	}
}

func TestClientWithWrongKeyIsUnauthorized(t *testing.T) {
	c, inst := serve(t)
	_ = c
	info := inst.Info()
	bad, err := dps.New(dps.Options{
		ConnectionString: "HostName=" + info.HostName + ":1;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=",
		Endpoint:         c.Endpoint(),
		HTTPClient:       clientOf(t, inst),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.GetEnrollment(context.Background(), "x"); !dps.IsUnauthorized(err) {
		t.Fatalf("wrong key: %v, want 401", err)
	}
	ro, err := inst.ConnectionString(server.ReadOnlyPolicy)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := dps.New(dps.Options{ConnectionString: ro, Endpoint: c.Endpoint(), HTTPClient: clientOf(t, inst)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.PutEnrollment(context.Background(), symmetric("x"), ""); !dps.IsUnauthorized(err) {
		t.Fatalf("read-only policy wrote: %v", err)
	}
	if _, err := reader.QueryEnrollmentsPage(context.Background(), dps.QueryOptions{}, ""); err != nil {
		t.Fatalf("read-only policy cannot read: %v", err)
	}
}

func clientOf(t *testing.T, inst *server.Instance) *http.Client {
	pem, err := os.ReadFile(inst.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
