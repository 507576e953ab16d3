package shared

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// CompleteIDs completes registration IDs from the configured service. With
// multi set every argument position completes (for delete).
func CompleteIDs(f *cmdutil.Factory, multi bool) cobra.CompletionFunc {
	return cmdutil.CompleteIDs(f, multi, Kind.ListIDs)
}
