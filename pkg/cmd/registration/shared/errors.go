package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

// Explain gives the usual service answers about registration id a clear
// message, keeping the service error in the chain.
func Explain(err error, id string) error {
	switch {
	case err == nil:
		return nil
	case dps.IsNotFound(err):
		return cmdutil.Reword(err, "no registration state for %q (the device has not registered, or its state was deleted)", id)
	case dps.IsPreconditionFailed(err):
		return cmdutil.Reword(err, "the registration state of %q was not deleted: it changed since --etag was read (its etag no longer matches)", id)
	}
	return err
}
