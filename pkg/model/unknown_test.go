package model

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	fastjson "github.com/segmentio/encoding/json"
)

// TestUnknownMembersRoundTrip decodes documents with members this package
// does not model and encodes them again, under both encoders.
func TestUnknownMembersRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		group          bool
		unknown        []string // names of the top-level unknown members
	}{
		{name: "known only", in: `{"registrationId":"r","attestation":{"type":"symmetricKey"},"etag":"E"}`,
			want: `{"registrationId":"r","attestation":{"type":"symmetricKey"},"etag":"E"}`},
		{name: "newer top-level members", in: `{"registrationId":"r","credentialPolicyName":"p1","attestation":{"type":"x509"},"etag":"E","future":{"a":[1,{"b":"}"}]}}`,
			want: `{"registrationId":"r","attestation":{"type":"x509"},"etag":"E","credentialPolicyName":"p1","future":{"a":[1,{"b":"}"}]}}`, unknown: []string{"credentialPolicyName", "future"}},
		{name: "unknown in the attestation", in: `{"registrationId":"r","attestation":{"type":"x509","x509":{},"newMechanism":{"k":"v"}}}`,
			want: `{"registrationId":"r","attestation":{"type":"x509","x509":{},"newMechanism":{"k":"v"}}}`},
		{name: "escaped key", in: `{"registrationId":"r","\u0063redentialPolicyName":"p","attestation":null}`,
			want: `{"registrationId":"r","attestation":null,"\u0063redentialPolicyName":"p"}`, unknown: []string{"credentialPolicyName"}},
		{name: "a key in another case is known", in: `{"RegistrationID":"r","attestation":{"TYPE":"tpm"}}`,
			want: `{"registrationId":"r","attestation":{"type":"tpm"}}`},
		{name: "the other kind's members are dropped", in: `{"enrollmentGroupId":"g","registrationId":"r","deviceId":"d","x":1}`,
			want: `{"enrollmentGroupId":"g","attestation":null,"x":1}`, group: true, unknown: []string{"x"}},
		{name: "spaces", in: " {\n \"registrationId\" : \"r\" ,\t\"n\" : [ 1 , 2 ] , \"t\" : true , \"f\":false, \"z\" : null, \"num\": -1.5e3 }",
			want: `{"registrationId":"r","attestation":null,"n":[1,2],"t":true,"f":false,"z":null,"num":-1.5e3}`, unknown: []string{"n", "t", "f", "z", "num"}},
	} {
		for _, enc := range []struct {
			name      string
			marshal   func(any) ([]byte, error)
			unmarshal func([]byte, any) error
		}{{"encoding/json", json.Marshal, json.Unmarshal}, {"segmentio", fastjson.Marshal, fastjson.Unmarshal}} {
			var v any = new(IndividualEnrollment)
			if tt.group {
				v = new(EnrollmentGroup)
			}
			if err := enc.unmarshal([]byte(tt.in), v); err != nil {
				t.Fatalf("%s %s: %v", enc.name, tt.name, err)
			}
			var u Unknown
			switch x := v.(type) {
			case *IndividualEnrollment:
				u = x.Unknown
			case *EnrollmentGroup:
				u = x.Unknown
			}
			var names []string
			for _, m := range u {
				names = append(names, m.Name())
			}
			if !reflect.DeepEqual(names, tt.unknown) {
				t.Errorf("%s %s: unknown members %q, want %q", enc.name, tt.name, names, tt.unknown)
			}
			got, err := enc.marshal(v)
			if err != nil || string(got) != tt.want {
				t.Errorf("%s %s:\n got %s, %v\nwant %s", enc.name, tt.name, got, err, tt.want)
			}
		}
	}
}

// TestUnknownMembersHonourEscapeHTML: the unknown members are escaped as
// the encoder escapes the rest, and not at all without HTML escaping.
func TestUnknownMembersHonourEscapeHTML(t *testing.T) {
	in := `{"registrationId":"r","attestation":null,"customAllocationDefinition":{"webhookUrl":"https://x/?a=1&b=2","apiVersion":"v"},"note":"<b>&"}`
	var e IndividualEnrollment
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil || buf.String() != in+"\n" {
		t.Errorf("without HTML escaping: %s, %v", buf.String(), err)
	}
	want := `{"registrationId":"r","attestation":null,"customAllocationDefinition":{"webhookUrl":"https://x/?a=1\u0026b=2","apiVersion":"v"},"note":"\u003cb\u003e\u0026"}`
	for _, marshal := range []func(any) ([]byte, error){json.Marshal, fastjson.Marshal} {
		if got, err := marshal(&e); err != nil || string(got) != want {
			t.Errorf("escaped: %s, %v", got, err)
		}
	}
}

// TestUnknownMembersKeepTheFieldOfABadValue: a document the decoder refuses
// is reported by encoding/json, with the field's path and the type's name
// as encoding/json gives them for the struct without methods.
func TestUnknownMembersKeepTheFieldOfABadValue(t *testing.T) {
	for _, unmarshal := range []func([]byte, any) error{json.Unmarshal, fastjson.Unmarshal} {
		var e IndividualEnrollment
		err := unmarshal([]byte(`{"registrationId":"r","attestation":{"type":7}}`), &e)
		var te *json.UnmarshalTypeError
		if !reflectAs(err, &te) || te.Field != "EnrollmentCommon.attestation.type" || te.Struct != "IndividualEnrollment" {
			t.Errorf("error %v (%T), want an UnmarshalTypeError of IndividualEnrollment.EnrollmentCommon.attestation.type", err, err)
		}
	}
}

func reflectAs(err error, te **json.UnmarshalTypeError) bool {
	for err != nil {
		if x, ok := err.(*json.UnmarshalTypeError); ok {
			*te = x
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// FuzzUnknownMembers holds decode→encode to keeping every unknown member
// of an enrollment and of a group (its key HTML-escaped, its value
// compacted and HTML-escaped, as the encoder writes any raw value), both
// encoders to the same bytes, and the members the package models to what
// the method-less types decode and encode.
func FuzzUnknownMembers(f *testing.F) {
	for _, s := range []string{
		`{"registrationId":"r","credentialPolicyName":"p","attestation":{"type":"x509","x509":{"caReferences":{"primary":"ca"}},"extra":[1,"a\"b"]}}`,
		`{"enrollmentGroupId":"g","attestation":{"type":"symmetricKey"},"new":{"x":{"y":null}},"etag":"E"}`,
		`{"registrationId":"r","\u0072egistrationId":"s","RegistrationId":"t","a":"\u2028<>&"}`,
		`{"registrationId":"r"}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e IndividualEnrollment
		if json.Unmarshal(data, &e) != nil {
			return
		}
		var fe IndividualEnrollment
		if err := fastjson.Unmarshal(data, &fe); err != nil {
			t.Fatalf("segmentio refuses what encoding/json reads: %v", err)
		}
		if !reflect.DeepEqual(e, fe) {
			t.Fatalf("decoded\n%+v\nsegmentio\n%+v", e, fe)
		}
		out, err := json.Marshal(&e)
		if err != nil {
			return
		}
		if fout, err := fastjson.Marshal(&e); err != nil || !bytes.Equal(out, fout) {
			t.Fatalf("encoded\n%s\nsegmentio\n%s (%v)", out, fout, err)
		}
		var back IndividualEnrollment
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		sameUnknown(t, "top level", e.Unknown, back.Unknown)
		if e.Attestation != nil && back.Attestation != nil {
			sameUnknown(t, "attestation", e.Attestation.Unknown, back.Attestation.Unknown)
		}
		checkGroup(t, data)
		// Without its unknown members, the enrollment is what the
		// method-less types make of it.
		e.Unknown, back.Unknown = nil, nil
		if e.Attestation != nil {
			a := *e.Attestation
			a.Unknown = nil
			e.Attestation = &a
		}
		if back.Attestation != nil {
			back.Attestation.Unknown = nil
		}
		var plain, plainBack plainEnrollment
		if json.Unmarshal(data, &plain) == nil && plain.Attestation != nil {
			plain.Attestation.Unknown = nil
		}
		if !reflect.DeepEqual(plain, plainEnrollment(e)) {
			t.Fatalf("known members\n%+v\nmethod-less\n%+v", e, plain)
		}
		want, _ := json.Marshal(&plain)
		got, _ := json.Marshal(&e)
		if !bytes.Equal(got, want) {
			t.Fatalf("known members encode to\n%s\nmethod-less\n%s", got, want)
		}
		if json.Unmarshal(want, &plainBack) == nil && plainBack.Attestation != nil {
			plainBack.Attestation.Unknown = nil
		}
		if !reflect.DeepEqual(plainBack, plainEnrollment(back)) {
			t.Fatalf("decoded again\n%+v\nmethod-less\n%+v", back, plainBack)
		}
	})
}

func sameUnknown(t *testing.T, where string, in, out Unknown) {
	t.Helper()
	if len(in) != len(out) {
		t.Fatalf("%s: %d unknown members, %d after a round trip", where, len(in), len(out))
	}
	for i := range in {
		var k bytes.Buffer
		json.HTMLEscape(&k, in[i].Key)
		if !bytes.Equal(k.Bytes(), out[i].Key) {
			t.Fatalf("%s: key %s became %s", where, in[i].Key, out[i].Key)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, in[i].Value); err != nil {
			t.Fatal(err)
		}
		var h bytes.Buffer
		json.HTMLEscape(&h, c.Bytes())
		if !bytes.Equal(h.Bytes(), out[i].Value) {
			t.Fatalf("%s: %s was %s, is %s", where, in[i].Key, in[i].Value, out[i].Value)
		}
	}
}

// checkGroup holds a group decoded from data to the same round trip: both
// decoders agree, and its unknown members survive encoding.
func checkGroup(t *testing.T, data []byte) {
	t.Helper()
	var g, fg, back EnrollmentGroup
	if json.Unmarshal(data, &g) != nil {
		return
	}
	if err := fastjson.Unmarshal(data, &fg); err != nil || !reflect.DeepEqual(g, fg) {
		t.Fatalf("group decoded\n%+v\nsegmentio\n%+v (%v)", g, fg, err)
	}
	out, err := json.Marshal(&g)
	if err != nil {
		return
	}
	if fout, err := fastjson.Marshal(&g); err != nil || !bytes.Equal(out, fout) {
		t.Fatalf("group encoded\n%s\nsegmentio\n%s (%v)", out, fout, err)
	}
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("decode group %s: %v", out, err)
	}
	sameUnknown(t, "group", g.Unknown, back.Unknown)
}
