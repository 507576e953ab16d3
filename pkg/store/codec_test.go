package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	fastjson "github.com/segmentio/encoding/json"
)

var codecSeeds = []string{
	`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"AAAA","secondaryKey":"BBBB"}},"capabilities":{"iotEdge":true},"etag":"IjEi","provisioningStatus":"enabled","createdDateTimeUtc":"2026-01-01T00:00:00.0000000Z"}`,
	`{"registrationId":"dev-2","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":"-----BEGIN CERTIFICATE-----\nMIIB\u003c\u0026\n-----END CERTIFICATE-----\n","info":{"subjectName":"CN=dev-2, O=\"A <b> & c\"","version":3}}}}},"iotHubs":["h1","h2"],"allocationPolicy":"hashed"}`,
	`{"registrationId":"dev-3","attestation":{"type":"tpm","tpm":{"endorsementKey":"AHoA","storageRootKey":""}},"initialTwin":{"tags":{"a":[1,2.5e3,null,true],"b":{"c":"\u2028\ud83d\ude00"}},"properties":{"desired":{"x":"y"}}},"reprovisionPolicy":{"updateHubAssignment":false,"migrateDeviceData":true},"customAllocationDefinition":{"webhookUrl":"https://x/y?a=1&b=2","apiVersion":"2021-10-01"}}`,
	`{"registrationId":"\u00e9\t\"q\"","deviceId":"","optionalDeviceInformation":{"p":1}}`,
	`{"registrationId":"dev-4","credentialPolicyName":"p","attestation":{"type":"x509","x509":{},"future":{"a":["<&>"]}},"\u0078":[1,2]}`,
}

// FuzzDocumentCodec holds the stored-document codec to encoding/json: any
// enrollment encodes to the same bytes, and decodes to the same value.
func FuzzDocumentCodec(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e model.IndividualEnrollment
		if json.Unmarshal(data, &e) != nil {
			return
		}
		want, err := json.Marshal(&e)
		if err != nil {
			return
		}
		got, err := encode("enrollment", &e)
		if err != nil {
			t.Fatalf("encode: %v (encoding/json: %s)", err, want)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
		}
		var a, b model.IndividualEnrollment
		if err := fastjson.Unmarshal(want, &a); err != nil {
			t.Fatalf("decode %s: %v", want, err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decoded %+v, encoding/json %+v", a, b)
		}
	})
}
