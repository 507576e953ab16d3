package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

// ExplainDelete is Kind.Explain for a delete, where a stale --etag is the only
// cause of a failed precondition.
func ExplainDelete(err error, id string) error {
	if dps.IsPreconditionFailed(err) {
		return cmdutil.Reword(err, "enrollment group %q was not deleted: it changed since --etag was read (its etag no longer matches)", id)
	}
	return Kind.Explain(err, id)
}

// ExplainUpdate is Kind.Explain for the write of an update: with --etag, a
// failed precondition means the group is no longer at that etag.
func ExplainUpdate(err error, id, etag string) error {
	if etag != "" && dps.IsPreconditionFailed(err) {
		return cmdutil.Reword(err, "enrollment group %q is no longer at --etag %s (it changed since that etag was read); read it again, or use --force to overwrite", id, etag)
	}
	return Kind.Explain(err, id)
}
