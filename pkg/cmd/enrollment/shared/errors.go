package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

// Explain gives the usual service answers about enrollment id a clear
// message, keeping the service error in the chain.
func Explain(err error, id string) error {
	switch {
	case err == nil:
		return nil
	case dps.IsNotFound(err):
		return cmdutil.Reword(err, "enrollment %q not found", id)
	case dps.IsConflict(err):
		return cmdutil.Reword(err, "enrollment %q already exists (use \"dpsctl enrollment update\")", id)
	case dps.IsPreconditionFailed(err):
		return cmdutil.Reword(err, "enrollment %q was changed since it was read (its etag no longer matches); read it again, or use --force to overwrite", id)
	}
	return err
}
