package shared

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestApplyKeepsUnnamedFields(t *testing.T) {
	e := &model.IndividualEnrollment{
		RegistrationID: "dev-1",
		DeviceID:       "d",
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}},
			IoTHubs:     []string{"a.net", "b.net"},
			InitialTwin: &model.InitialTwin{Tags: json.RawMessage(`{"x":1}`)},
		},
	}
	before, _ := json.Marshal(e)
	fl := Flags{Flags: enroll.Flags{ProvisioningStatus: "disabled", Changed: map[string]bool{enroll.FlagProvisioningStatus: true}}}
	if err := fl.Apply(e, true); err != nil {
		t.Fatal(err)
	}
	if e.ProvisioningStatus != "disabled" {
		t.Fatal("status not applied")
	}
	e.ProvisioningStatus = ""
	after, _ := json.Marshal(e)
	if string(before) != string(after) {
		t.Fatalf("unnamed fields changed:\n%s\n%s", before, after)
	}
}

func TestApplyHubs(t *testing.T) {
	e := &model.IndividualEnrollment{EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}, IoTHubs: []string{"a.net", "b.net"}}}
	fl := Flags{Flags: enroll.Flags{AddIoTHubs: []string{"c.net", "A.NET", " "}, RemoveIoTHubs: []string{"b.net"}, Changed: map[string]bool{enroll.FlagAddIoTHub: true, enroll.FlagRemoveIoTHub: true}}}
	if err := fl.Apply(e, true); err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.IoTHubs, ",") != "a.net,c.net" {
		t.Fatalf("hubs %v", e.IoTHubs)
	}
	fl = Flags{Flags: enroll.Flags{IoTHubs: []string{""}, Changed: map[string]bool{enroll.FlagIoTHubs: true}}}
	if err := fl.Apply(e, true); err != nil || e.IoTHubs != nil {
		t.Fatalf("clear: %v %v", e.IoTHubs, err)
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"***"}},"iotHubs":["a"]}`))
	f.Add([]byte(`{"initialTwin":{"tags":{"a":[1,{"b":null}]}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Kind.ParseFile("fuzz.json", data)
		if err != nil {
			return
		}
		// Whatever parses must survive the write path's re-encoding.
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("parsed enrollment does not marshal: %v", err)
		}
	})
}
