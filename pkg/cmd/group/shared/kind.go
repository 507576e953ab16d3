package shared

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Kind describes enrollment groups to the code they share with individual
// enrollments.
var Kind = &enroll.Kind[model.EnrollmentGroup, *model.EnrollmentGroup]{
	Get: (*dps.Client).GetGroup, GetAttestation: (*dps.Client).GetGroupAttestation,
	Put: (*dps.Client).PutGroup, List: (*dps.Client).Groups,
	Detail:          DetailColumns,
	SameCertificate: sameCert,
}

// sameCert reports whether an exported certificate slot (details only)
// names the certificate the service holds; one without details is taken to.
func sameCert(exported, current *model.X509CertificateWithInfo) bool {
	if current == nil {
		return false
	}
	if exported.Info == nil || current.Info == nil {
		return true
	}
	return strings.EqualFold(exported.Info.SHA256Thumbprint, current.Info.SHA256Thumbprint)
}
