package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Kind describes individual enrollments to the code they share with
// enrollment groups.
var Kind = &enroll.Kind[model.IndividualEnrollment, *model.IndividualEnrollment]{
	Get: (*dps.Client).GetEnrollment, GetAttestation: (*dps.Client).GetEnrollmentAttestation,
	Put: (*dps.Client).PutEnrollment, List: (*dps.Client).Enrollments,
	Detail: DetailColumns,
}
