package model_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	fastjson "github.com/segmentio/encoding/json"
)

// The fixtures below set every member through its field name, so they read
// the same whatever struct declares the member.

func fullAttestation() *model.AttestationMechanism {
	cert := func(name string) *model.X509CertificateWithInfo {
		return &model.X509CertificateWithInfo{Certificate: "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n",
			Info: &model.X509CertificateInfo{SubjectName: "CN=" + name + ", O=\"A <b> & c\"", SHA1Thumbprint: "s1-" + name, SHA256Thumbprint: "s256-" + name,
				IssuerName: "CN=issuer", NotBeforeUTC: "2025-01-01T00:00:00Z", NotAfterUTC: "2030-01-01T00:00:00Z", SerialNumber: "0A", Version: 3}}
	}
	return &model.AttestationMechanism{
		Type:         model.AttestationX509,
		TPM:          &model.TPMAttestation{EndorsementKey: "AHoA", StorageRootKey: "AAEB"},
		X509:         &model.X509Attestation{ClientCertificates: &model.X509Certificates{Primary: cert("c1"), Secondary: cert("c2")}, SigningCertificates: &model.X509Certificates{Primary: cert("s1"), Secondary: cert("s2")}, CAReferences: &model.X509CAReferences{Primary: "root-1", Secondary: "root-2"}},
		SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: "AAAA", SecondaryKey: "BBBB"},
	}
}

func fullEnrollment() *model.IndividualEnrollment {
	e := &model.IndividualEnrollment{}
	e.RegistrationID = "dev-1"
	e.DeviceID = "device-1"
	e.RegistrationState = &model.DeviceRegistrationState{RegistrationID: "dev-1", CreatedDateTimeUTC: "2025-01-01T00:00:00.0000000Z", AssignedHub: "hub.azure-devices.net",
		DeviceID: "device-1", Status: model.RegAssigned, Substatus: "initialAssignment", ErrorCode: 400, ErrorMessage: "msg",
		LastUpdatedDateTimeUTC: "2025-01-02T00:00:00.0000000Z", ETag: "IjEi", Payload: json.RawMessage(`{"p":1}`)}
	e.OptionalDeviceInformation = json.RawMessage(`{"o":[1,2]}`)
	setShared(&e.Attestation, &e.Capabilities, &e.IoTHubHostName, &e.InitialTwin, &e.ETag, &e.ProvisioningStatus, &e.ReprovisionPolicy,
		&e.CreatedDateTimeUTC, &e.LastUpdatedDateTimeUTC, &e.AllocationPolicy, &e.IoTHubs, &e.CustomAllocationDefinition)
	return e
}

func fullGroup() *model.EnrollmentGroup {
	g := &model.EnrollmentGroup{}
	g.EnrollmentGroupID = "group-1"
	setShared(&g.Attestation, &g.Capabilities, &g.IoTHubHostName, &g.InitialTwin, &g.ETag, &g.ProvisioningStatus, &g.ReprovisionPolicy,
		&g.CreatedDateTimeUTC, &g.LastUpdatedDateTimeUTC, &g.AllocationPolicy, &g.IoTHubs, &g.CustomAllocationDefinition)
	return g
}

func setShared(att **model.AttestationMechanism, caps **model.DeviceCapabilities, hostName *string, twin **model.InitialTwin, etag, status *string,
	policy **model.ReprovisionPolicy, created, updated, allocation *string, hubs *[]string, custom **model.CustomAllocationDefinition) {
	*att = fullAttestation()
	*caps = &model.DeviceCapabilities{IoTEdge: true}
	*hostName = "legacy.azure-devices.net"
	*twin = &model.InitialTwin{Tags: json.RawMessage(`{"version":1,"a":"\u2028\u003cx\u003e"}`), Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"d":{"e":null}}`)}}
	*etag = "IjIi"
	*status = model.StatusDisabled
	*policy = &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: false}
	*created = "2025-01-01T00:00:00.0000000Z"
	*updated = "2025-01-03T00:00:00.0000000Z"
	*allocation = model.AllocationCustom
	*hubs = []string{"a.azure-devices.net", "b.azure-devices.net"}
	*custom = &model.CustomAllocationDefinition{WebhookURL: "https://example.net/hook?a=1&b=2", APIVersion: "2021-10-01"}
}

// The wire form of the fixtures, member for member in the order the service
// documents (and this package has always written) them.
const (
	wantAttestation = `{"type":"x509","tpm":{"endorsementKey":"AHoA","storageRootKey":"AAEB"},"x509":{"clientCertificates":{"primary":{"certificate":"-----BEGIN CERTIFICATE-----\nc1\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=c1, O=\"A \u003cb\u003e \u0026 c\"","sha1Thumbprint":"s1-c1","sha256Thumbprint":"s256-c1","issuerName":"CN=issuer","notBeforeUtc":"2025-01-01T00:00:00Z","notAfterUtc":"2030-01-01T00:00:00Z","serialNumber":"0A","version":3}},"secondary":{"certificate":"-----BEGIN CERTIFICATE-----\nc2\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=c2, O=\"A \u003cb\u003e \u0026 c\"","sha1Thumbprint":"s1-c2","sha256Thumbprint":"s256-c2","issuerName":"CN=issuer","notBeforeUtc":"2025-01-01T00:00:00Z","notAfterUtc":"2030-01-01T00:00:00Z","serialNumber":"0A","version":3}}},"signingCertificates":{"primary":{"certificate":"-----BEGIN CERTIFICATE-----\ns1\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=s1, O=\"A \u003cb\u003e \u0026 c\"","sha1Thumbprint":"s1-s1","sha256Thumbprint":"s256-s1","issuerName":"CN=issuer","notBeforeUtc":"2025-01-01T00:00:00Z","notAfterUtc":"2030-01-01T00:00:00Z","serialNumber":"0A","version":3}},"secondary":{"certificate":"-----BEGIN CERTIFICATE-----\ns2\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=s2, O=\"A \u003cb\u003e \u0026 c\"","sha1Thumbprint":"s1-s2","sha256Thumbprint":"s256-s2","issuerName":"CN=issuer","notBeforeUtc":"2025-01-01T00:00:00Z","notAfterUtc":"2030-01-01T00:00:00Z","serialNumber":"0A","version":3}}},"caReferences":{"primary":"root-1","secondary":"root-2"}},"symmetricKey":{"primaryKey":"AAAA","secondaryKey":"BBBB"}}`
	wantShared      = `"attestation":` + wantAttestation + `,"capabilities":{"iotEdge":true},"iotHubHostName":"legacy.azure-devices.net","initialTwin":{"tags":{"version":1,"a":"\u2028\u003cx\u003e"},"properties":{"desired":{"d":{"e":null}}}},"etag":"IjIi","provisioningStatus":"disabled","reprovisionPolicy":{"updateHubAssignment":true,"migrateDeviceData":false},"createdDateTimeUtc":"2025-01-01T00:00:00.0000000Z","lastUpdatedDateTimeUtc":"2025-01-03T00:00:00.0000000Z","allocationPolicy":"custom","iotHubs":["a.azure-devices.net","b.azure-devices.net"],"customAllocationDefinition":{"webhookUrl":"https://example.net/hook?a=1\u0026b=2","apiVersion":"2021-10-01"}}`
	wantEnrollment  = `{"registrationId":"dev-1","deviceId":"device-1","registrationState":{"registrationId":"dev-1","createdDateTimeUtc":"2025-01-01T00:00:00.0000000Z","assignedHub":"hub.azure-devices.net","deviceId":"device-1","status":"assigned","substatus":"initialAssignment","errorCode":400,"errorMessage":"msg","lastUpdatedDateTimeUtc":"2025-01-02T00:00:00.0000000Z","etag":"IjEi","payload":{"p":1}},"optionalDeviceInformation":{"o":[1,2]},` + wantShared
	wantGroup       = `{"enrollmentGroupId":"group-1",` + wantShared
)

// encoders are the two JSON encoders the wire types go through: the client,
// the server's store and the CLI's output must all see the same bytes.
var encoders = []struct {
	name      string
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}{
	{"encoding/json", json.Marshal, json.Unmarshal},
	{"segmentio", fastjson.Marshal, fastjson.Unmarshal},
}

// TestWireBytes pins the bytes of a fully populated enrollment and group,
// member order included, under both encoders, and that decoding them gives
// back the same value.
func TestWireBytes(t *testing.T) {
	for _, enc := range encoders {
		for _, tt := range []struct {
			name  string
			value any
			zero  func() any
			want  string
		}{
			{"enrollment", fullEnrollment(), func() any { return new(model.IndividualEnrollment) }, wantEnrollment},
			{"group", fullGroup(), func() any { return new(model.EnrollmentGroup) }, wantGroup},
			{"bulk enrollments", &model.BulkEnrollmentOperation{Mode: model.BulkCreate, Enrollments: []model.IndividualEnrollment{*fullEnrollment()}},
				func() any { return new(model.BulkEnrollmentOperation) }, `{"mode":"create","enrollments":[` + wantEnrollment + `]}`},
			{"bulk groups", &model.BulkEnrollmentGroupOperation{Mode: model.BulkDelete, EnrollmentGroups: []model.EnrollmentGroup{*fullGroup()}},
				func() any { return new(model.BulkEnrollmentGroupOperation) }, `{"mode":"delete","enrollmentGroups":[` + wantGroup + `]}`},
		} {
			got, err := enc.marshal(tt.value)
			if err != nil || string(got) != tt.want {
				t.Errorf("%s %s:\n got %s, %v\nwant %s", enc.name, tt.name, got, err, tt.want)
				continue
			}
			back := tt.zero()
			if err := enc.unmarshal(got, back); err != nil || !reflect.DeepEqual(back, tt.value) {
				t.Errorf("%s %s: decoded %+v, %v", enc.name, tt.name, back, err)
			}
		}
	}
}

// TestWireMembersByName decodes members in any order, and leaves the other
// kind's ID and enrollment-only members out of a group.
func TestWireMembersByName(t *testing.T) {
	doc := `{"iotHubs":["h"],"enrollmentGroupId":"g","provisioningStatus":"enabled","registrationId":"r","deviceId":"d","etag":"E","attestation":{"type":"symmetricKey"}}`
	for _, enc := range encoders {
		var e model.IndividualEnrollment
		var g model.EnrollmentGroup
		if err := enc.unmarshal([]byte(doc), &e); err != nil {
			t.Fatal(err)
		}
		if err := enc.unmarshal([]byte(doc), &g); err != nil {
			t.Fatal(err)
		}
		if b, _ := enc.marshal(&e); string(b) != `{"registrationId":"r","deviceId":"d","attestation":{"type":"symmetricKey"},"etag":"E","provisioningStatus":"enabled","iotHubs":["h"]}` {
			t.Errorf("%s enrollment %s", enc.name, b)
		}
		if b, _ := enc.marshal(&g); string(b) != `{"enrollmentGroupId":"g","attestation":{"type":"symmetricKey"},"etag":"E","provisioningStatus":"enabled","iotHubs":["h"]}` {
			t.Errorf("%s group %s", enc.name, b)
		}
	}
}

// TestEnrollable holds each kind to its ID member, its item type, its
// not-found code and its certificate slots, and Common to the embedded
// members.
func TestEnrollable(t *testing.T) {
	e, g := fullEnrollment(), fullGroup()
	x := &model.X509Attestation{}
	for _, tt := range []struct {
		v                      model.Enrollable
		kind                   model.EnrollmentKind
		id, name, idMember     string
		itemType               string
		notFound               int
		certificates, embedded any
	}{
		{e, model.KindEnrollment, "dev-1", "enrollment", "registrationId", model.ItemTypeEnrollment, model.ErrEnrollmentNotFound, &x.ClientCertificates, &e.EnrollmentCommon},
		{g, model.KindGroup, "group-1", "enrollment group", "enrollmentGroupId", model.ItemTypeEnrollmentGroup, model.ErrEnrollmentGroupNotFound, &x.SigningCertificates, &g.EnrollmentCommon},
	} {
		k := tt.v.Kind()
		if k != tt.kind || tt.v.ID() != tt.id || k.String() != tt.name || k.IDMember() != tt.idMember || k.ItemType() != tt.itemType || k.NotFoundCode() != tt.notFound {
			t.Errorf("%T: kind %d %q %q %q %d, id %q", tt.v, k, k, k.IDMember(), k.ItemType(), k.NotFoundCode(), tt.v.ID())
		}
		if k.Certificates(x) != tt.certificates || tt.v.Common() != tt.embedded {
			t.Errorf("%T: certificate slots or common members elsewhere", tt.v)
		}
		// The ID member is the first the kind writes.
		b, _ := json.Marshal(tt.v)
		if want := `{"` + tt.idMember + `":"` + tt.id + `",`; string(b[:len(want)]) != want {
			t.Errorf("%T: %s does not start with %s", tt.v, b, want)
		}
	}
	if (*model.IndividualEnrollment)(nil).Kind() != model.KindEnrollment || (*model.EnrollmentGroup)(nil).Kind() != model.KindGroup {
		t.Error("the kind of a nil pointer")
	}
}
