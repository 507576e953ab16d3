package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

// Explain gives the usual service answers about enrollment group id a
// clear message, keeping the service error in the chain.
func Explain(err error, id string) error {
	switch {
	case err == nil:
		return nil
	case dps.IsNotFound(err):
		return cmdutil.Reword(err, "enrollment group %q not found", id)
	case dps.IsConflict(err):
		return cmdutil.Reword(err, "enrollment group %q already exists (use \"dpsctl group update\")", id)
	case dps.IsPreconditionFailed(err):
		return cmdutil.Reword(err, "enrollment group %q was changed since it was read (its etag no longer matches); read it again, or use --force to overwrite", id)
	}
	return err
}

// ExplainDelete is Explain for a delete, where a stale --etag is the only
// cause of a failed precondition.
func ExplainDelete(err error, id string) error {
	if dps.IsPreconditionFailed(err) {
		return cmdutil.Reword(err, "enrollment group %q was not deleted: it changed since --etag was read (its etag no longer matches)", id)
	}
	return Explain(err, id)
}
