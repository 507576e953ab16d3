package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// CompleteIDs completes enrollment group IDs from the configured service.
// With multi set every argument position completes (for delete); a flag
// taking a group ID (--group) also wants multi, so that arguments already
// given do not stop it.
func CompleteIDs(f *cmdutil.Factory, multi bool) cobra.CompletionFunc {
	return cmdutil.CompleteIDs(f, multi, Kind.ListIDs)
}
