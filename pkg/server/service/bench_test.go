package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// Symmetric keys of the bulk body (base64 of 32 bytes).
const (
	keyA = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
	keyB = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
)

// BenchmarkDecodeBulkBody compares the checks of checkJSONBody with the
// decoding of a full bulk body (ten enrollments with twins).
func BenchmarkDecodeBulkBody(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"mode":"create","enrollments":[`)
	for i := range MaxBulkItems {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"registrationId":"bench-%08d","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"%s","secondaryKey":"%s"}},"initialTwin":{"tags":{"site":"lab","rack":{"row":3,"slot":[1,2,3]}},"properties":{"desired":{"telemetry":{"interval":30,"unit":"s"}}}}}`, i, keyA, keyB)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := httpapi.CheckJSONBody(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var v bulkBody[model.IndividualEnrollment]
			if err := httpapi.DecodeJSON(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
